"""Token and latency models per swarm role, shaped after Gemini 2.5 Flash.

Latency of one call = time to first token (lognormal) + prompt prefill + generated tokens (output
and thinking) at the model's decode speed, all multiplied by the provider's slowdown factor. With
the defaults a chatbot answer takes ~3.5 s and its audit ~1.5 s: about 5 s end to end, so a 5x
provider slowdown gives the seed's ~25 s spikes. Draws are vectorised: one call per segment of
messages, never one per message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROLES = ("chatbot", "auditor", "refiner", "evaluator")
PREFILL_TOKENS_PER_S = 100_000.0  # prompt processing; makes a 250k-token injection visibly slower


@dataclass(frozen=True)
class Lognormal:
    """A lognormal given by its median and the sigma of its log."""

    median: float
    sigma: float

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(np.log(self.median), self.sigma, n)


@dataclass(frozen=True, kw_only=True)
class RoleModel:
    """How big one call of a role is and how long it takes."""

    role: str
    input_tokens: Lognormal  # own prompt (instructions, retrieved context) before what the call reads
    output_tokens: Lognormal
    thinking_tokens: Lognormal
    ttft_s: Lognormal
    decode_tokens_per_s: float

    def tokens(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer (input, output, thinking) token counts of `n` calls, each at least 1."""
        def whole(d: Lognormal) -> np.ndarray:
            return np.maximum(np.rint(d.draw(rng, n)), 1).astype(np.int64)
        return whole(self.input_tokens), whole(self.output_tokens), whole(self.thinking_tokens)

    def latency(self, ttft_draw: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray,
                thinking_tokens: np.ndarray, slowdown: np.ndarray | float = 1.0) -> np.ndarray:
        """Seconds per call, from a ttft draw and the token counts (vectorised)."""
        return (ttft_draw + input_tokens / PREFILL_TOKENS_PER_S
                + (output_tokens + thinking_tokens) / self.decode_tokens_per_s) * slowdown


MODELS: dict[str, RoleModel] = {
    # Answers a user: a short prompt with context, a few hundred tokens out, some thinking.
    "chatbot": RoleModel(role="chatbot", input_tokens=Lognormal(900, 0.45), output_tokens=Lognormal(250, 0.5),
                         thinking_tokens=Lognormal(400, 0.6), ttft_s=Lognormal(0.45, 0.3), decode_tokens_per_s=220.0),
    # Reads the question and the answer plus its rubric (input adds to the chatbot's), says pass/fail.
    "auditor": RoleModel(role="auditor", input_tokens=Lognormal(350, 0.2), output_tokens=Lognormal(60, 0.3),
                         thinking_tokens=Lognormal(250, 0.5), ttft_s=Lognormal(0.35, 0.3), decode_tokens_per_s=250.0),
    # Reads the failed conversations and the current prompt, thinks hard, writes a new prompt.
    "refiner": RoleModel(role="refiner", input_tokens=Lognormal(2500, 0.3), output_tokens=Lognormal(1200, 0.3),
                         thinking_tokens=Lognormal(3000, 0.4), ttft_s=Lognormal(0.8, 0.3), decode_tokens_per_s=200.0),
    # Runs the candidate over its test set (per-case tokens, scaled by the number of cases).
    "evaluator": RoleModel(role="evaluator", input_tokens=Lognormal(900, 0.2), output_tokens=Lognormal(40, 0.3),
                           thinking_tokens=Lognormal(75, 0.4), ttft_s=Lognormal(0.6, 0.3),
                           decode_tokens_per_s=230.0),
}
CONVERSATION_TOKENS = 1500  # one failed conversation as the Refiner reads it
