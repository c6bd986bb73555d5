"""Cost math against hand-computed values, thinking tokens billed at the output price."""

from __future__ import annotations

import numpy as np
import pytest

from autonomic_lib.telemetry.prices import PRICES, price_for


def test_gemini_flash_list_prices_with_source_and_date() -> None:
    price = price_for("gemini-2.5-flash")
    assert (price.input_per_m, price.output_per_m) == (0.30, 2.50)
    assert price.source.startswith("https://") and price.as_of


def test_cost_of_one_call_by_hand() -> None:
    # 1,000 in at $0.30/M = $0.0003; (200 out + 300 thinking) at $2.50/M = $0.00125 -> $0.00155
    assert price_for().cost(1000, 200, 300) == pytest.approx(0.00155, rel=1e-12)


def test_thinking_tokens_cost_the_same_as_output_tokens() -> None:
    price = price_for()
    assert price.cost(0, 0, 1_000_000) == pytest.approx(2.50) == price.cost(0, 1_000_000, 0)


def test_prompt_injection_sized_message_breaches_the_budget() -> None:
    # 400k-token prompt read by the chatbot and again by the Auditor: 800k * 0.30/M = $0.24 > $0.10
    price = price_for()
    chat = price.cost(400_000, 250, 400)
    audit = price.cost(400_000 + 250 + 350, 60, 250)
    assert chat + audit == pytest.approx(0.12 + 650 * 2.5e-6 + 400_600 * 0.3e-6 + 310 * 2.5e-6, rel=1e-12)
    assert chat + audit > 0.10


def test_cost_is_vectorised() -> None:
    out = price_for().cost(np.array([1000, 0]), np.array([0, 1000]), np.array([0, 1000]))
    assert out == pytest.approx([0.0003, 0.005])


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="gemini-2.5-flash"):
        price_for("gpt-x")
    assert "gemini-2.5-flash" in PRICES
