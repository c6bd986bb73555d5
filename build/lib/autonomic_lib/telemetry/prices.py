"""Model prices and call cost: a versioned table, so a price change is one new row, not a code edit.

In telemetry because the Recorder prices a real swarm's calls; the simulation reads the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """List prices of one model in USD per 1M tokens; thinking tokens are billed at the output price."""

    model: str
    input_per_m: float
    output_per_m: float
    source: str
    as_of: str  # ISO date the prices were read from the source

    def cost(self, input_tokens: np.ndarray | int, output_tokens: np.ndarray | int,
             thinking_tokens: np.ndarray | int) -> np.ndarray | float:
        """USD of calls with these token counts (works on scalars and numpy arrays alike)."""
        return (np.asarray(input_tokens, dtype=np.float64) * self.input_per_m
                + (np.asarray(output_tokens, dtype=np.float64) + np.asarray(thinking_tokens, dtype=np.float64))
                * self.output_per_m) / PER_MILLION


# Gemini 2.5 Flash paid tier, text input, prompts of any length (no long-context surcharge on Flash).
# "Output price (including thinking tokens)": thinking is billed as output.
PRICES: Mapping[str, Price] = {
    "gemini-2.5-flash": Price("gemini-2.5-flash", input_per_m=0.30, output_per_m=2.50,
                              source="https://ai.google.dev/gemini-api/docs/pricing (Gemini 2.5 Flash, paid tier)",
                              as_of="2025-09-01"),
}
DEFAULT_MODEL = "gemini-2.5-flash"


def price_for(model: str = DEFAULT_MODEL) -> Price:
    """The price row of `model`; an unknown model names the ones the table has."""
    try:
        return PRICES[model]
    except KeyError:
        raise ValueError(f"no price for model {model!r}; the table has {', '.join(sorted(PRICES))} "
                         "(add a row to autonomic_lib/telemetry/prices.py: PRICES)") from None
