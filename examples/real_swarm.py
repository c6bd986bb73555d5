"""A small self-healing LLM loop instrumented the standard way: ddtrace's LLM Observability SDK and DogStatsD only.

A chatbot answers, an Auditor judges each answer (its verdict is also an LLM Observability evaluation), and after a
few failed answers a Refiner proposes a better prompt. The model client is a fake (offline, deterministic) standing
in for a Gemini client: swap `FakeGemini` for a real one and nothing else changes. Nothing here imports the kit.

Where the data goes comes from the standard environment only, so pointing it at a local Datadog Agent, at the kit's
sandbox acting as one, or at Datadog itself changes no line:
- traces: agent mode through `DD_TRACE_AGENT_URL` (default http://localhost:8126); agentless with
  `DD_LLMOBS_AGENTLESS_ENABLED=1`, `DD_API_KEY` and `DD_SITE`;
- metrics: DogStatsD at `DD_AGENT_HOST` / `DD_DOGSTATSD_PORT` (or `DD_DOGSTATSD_URL`), aggregated by the Agent every
  10 s (a histogram becomes .avg, .median, .95percentile, .max and .count).
`python -m autonomic_lib sandbox-env` prints those lines for the running sandbox.

    python examples/real_swarm.py --messages 20
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

from datadog.dogstatsd import DogStatsd
from ddtrace.llmobs import LLMObs

AGENT_SERVICE = "real-swarm-example"  # LLM Observability's ml_app
MODEL, PROVIDER = "gemini-2.5-flash", "google"
USD_PER_M_INPUT, USD_PER_M_OUTPUT = 0.30, 2.50  # Gemini 2.5 Flash list prices; thinking is billed as output
FAILURES_BEFORE_REFINING = 3
QUESTIONS = ("Where is my order?", "Can I change my delivery address?", "What is your refund policy?",
             "Do you ship to Canada?")


@dataclass
class Reply:
    text: str
    input_tokens: int
    output_tokens: int  # the answer alone
    thinking_tokens: int


class FakeGemini:
    """Canned replies with plausible token counts and a short delay; `fail_rate` of the chatbot's answers are wrong."""

    def __init__(self, seed: int, fail_rate: float):
        self.rng, self.fail_rate = random.Random(seed), fail_rate

    def generate(self, role: str, prompt: str) -> Reply:
        time.sleep(self.rng.uniform(0.005, 0.02))
        thinking = self.rng.randint(100, 400)
        if role == "chatbot":
            wrong = self.rng.random() < self.fail_rate
            text = "Your order was delivered to locker 12." if wrong else "It is in transit; delivery is tomorrow."
        elif role == "auditor":
            text = "Invented a fact. FAIL." if "locker" in prompt else "Grounded in the order record. PASS."
        else:
            text = "New prompt: look the order up before stating any fact about it."
        return Reply(text, input_tokens=len(prompt.split()) * 4 + 300, output_tokens=len(text.split()) * 2,
                     thinking_tokens=thinking)


def call_model(model: FakeGemini, statsd: DogStatsd, role: str, prompt: str) -> Reply:
    """One model call as an llm span, with tokens and cost, and its latency as a DogStatsD histogram."""
    with LLMObs.llm(model_name=MODEL, model_provider=PROVIDER, name=role) as span:
        started = time.monotonic()
        reply = model.generate(role, prompt)
        output = reply.output_tokens + reply.thinking_tokens  # Gemini's convention in ddtrace: output includes thinking
        input_cost, output_cost = reply.input_tokens * USD_PER_M_INPUT / 1e6, output * USD_PER_M_OUTPUT / 1e6
        LLMObs.annotate(span, input_data=[{"role": "user", "content": prompt}],
                        output_data=[{"role": "assistant", "content": reply.text}],
                        metrics={"input_tokens": reply.input_tokens, "output_tokens": output,
                                 "reasoning_output_tokens": reply.thinking_tokens,
                                 "total_tokens": reply.input_tokens + output, "input_cost": input_cost,
                                 "output_cost": output_cost, "total_cost": input_cost + output_cost})
    statsd.histogram("real_swarm.llm.latency", time.monotonic() - started, tags=[f"role:{role}"])
    return reply


def handle_message(model: FakeGemini, statsd: DogStatsd, question: str) -> str:
    """A user's message as one trace: workflow -> chatbot, auditor; the verdict as an evaluation and a counter."""
    with LLMObs.workflow(name="message") as root:
        answer = call_model(model, statsd, "chatbot", question)
        judgement = call_model(model, statsd, "auditor", f"User: {question}\nAnswer: {answer.text}")
        verdict = "pass" if "PASS" in judgement.text else "fail"
        LLMObs.annotate(root, input_data=question, output_data=answer.text, tags={"verdict": verdict})
        exported = LLMObs.export_span(root)
    if exported is not None:
        LLMObs.submit_evaluation(span=dict(exported), label="auditor_verdict", metric_type="categorical",
                                 value=verdict, assessment=verdict, reasoning=judgement.text)
    statsd.increment("real_swarm.audit.verdict", tags=[f"verdict:{verdict}"])
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    LLMObs.enable(agent_service=AGENT_SERVICE, integrations_enabled=False)
    statsd = DogStatsd()  # DD_AGENT_HOST / DD_DOGSTATSD_PORT / DD_DOGSTATSD_URL
    model = FakeGemini(args.seed, args.fail_rate)
    failures = 0
    for n in range(args.messages):
        if handle_message(model, statsd, QUESTIONS[n % len(QUESTIONS)]) == "fail":
            failures += 1
        if failures >= FAILURES_BEFORE_REFINING:
            with LLMObs.workflow(name="self_heal"):
                call_model(model, statsd, "refiner", f"{failures} failed answers; improve the prompt")
            statsd.increment("real_swarm.optimization.attempts")
            model.fail_rate, failures = model.fail_rate / 3, 0
    LLMObs.flush()
    statsd.flush()
    LLMObs.disable()
    print(f"sent {args.messages} traces to LLM Observability (ml_app {AGENT_SERVICE}) and their metrics to DogStatsD")


if __name__ == "__main__":
    main()
