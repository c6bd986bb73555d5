"""The agents' "thought process": short texts the logs carry, chosen deterministically from small corpora.

A real swarm logs what its models said; the simulation picks plausible lines by message number so
that the same seed gives the same logs, and the dashboard's log stream reads like a conversation.
"""

from __future__ import annotations

QUESTIONS = (
    "Where is my order #{n}? It was due yesterday.",
    "Can I change the delivery address of order #{n}?",
    "How do I reset my password?",
    "What is your refund policy for opened items?",
    "Do you ship to Canada, and how long does it take?",
    "My invoice #{n} shows a double charge.",
    "Which plan includes priority support?",
    "How do I cancel my subscription before renewal?",
)
GOOD_ANSWERS = (
    "I checked the order status: it is in transit and the carrier's tracking shows delivery tomorrow.",
    "Yes. Until the order ships you can edit the address under Orders > Details.",
    "Use 'Forgot password' on the sign-in page; the reset link is valid for 30 minutes.",
    "Opened items can be returned within 30 days for store credit, per the returns policy.",
    "We ship to Canada; standard delivery takes 5 to 8 business days.",
    "I see two authorisations; the duplicate is released by your bank within 3 days.",
    "Priority support is included in the Business plan and above.",
    "You can cancel under Billing > Subscription; you keep access until the period ends.",
)
BAD_ANSWERS = (
    "Your order #{n} was delivered to locker 12 this morning.",  # invented fact
    "Refunds are always issued in cash at any of our 400 stores.",
    "Our premium plan costs $3 and includes free hardware.",
    "I have cancelled your account and deleted all of your data.",
)
AUDIT_PASS = (
    "Answer is grounded in the order record and policy; tone is fine. PASS.",
    "Checked against the knowledge base: consistent and complete. PASS.",
    "No unsupported claims, answers the question asked. PASS.",
)
AUDIT_FAIL = (
    "The answer states facts absent from the order record (hallucination). FAIL.",
    "Contradicts the published policy; the user would be misinformed. FAIL.",
    "Invents a price and a product; not in the catalogue. FAIL.",
    "Takes an irreversible action the user did not ask for. FAIL.",
)
REFINER = (
    "Read {cases} failed conversations of {agent} {version}. Common cause: the prompt lets the model answer "
    "from memory when the tool result is empty. Proposing {candidate}: require a tool lookup before stating "
    "order facts, and say 'I could not find that' otherwise.",
    "Failures cluster on policy questions. Proposing {candidate}: quote the policy snippet verbatim and refuse "
    "to improvise prices or actions.",
)


def question(n: int) -> str:
    """The user's message number `n` of an agent."""
    return QUESTIONS[n % len(QUESTIONS)].format(n=10_000 + n % 90_000)


def answer(n: int, failed: bool) -> str:
    """The chatbot's answer to message `n`; a failed one contains the kind of error the Auditor catches."""
    corpus = BAD_ANSWERS if failed else GOOD_ANSWERS
    return corpus[n % len(corpus)].format(n=10_000 + n % 90_000)


def audit(n: int, failed: bool) -> str:
    """The Auditor's reasoning on message `n`."""
    corpus = AUDIT_FAIL if failed else AUDIT_PASS
    return corpus[n % len(corpus)]


def refiner(attempt: int, cases: int, agent: str, version: int) -> str:
    """The Refiner's reasoning when it proposes a new version."""
    return REFINER[attempt % len(REFINER)].format(cases=cases, agent=agent, version=f"v{version}",
                                                  candidate=f"v{version + 1}-rc{attempt + 1}")
