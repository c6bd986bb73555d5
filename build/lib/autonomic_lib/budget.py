"""The per-message budget: one number, read from the budget-breach monitor that enforces it.

The simulation's breaches, the Recorder's `autonomic.budget.breach.amount`, the analysis charts and
the seed's expectations all use this value, so editing the monitor's threshold moves them together.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .catalog import ASSETS_DIR
from .errors import CatalogError

BUDGET_MONITOR = ASSETS_DIR / "monitors" / "budget_breach.json"
THRESHOLD_PATH = ("definition", "options", "thresholds", "critical")


@lru_cache(maxsize=None)
def message_budget(path: Path = BUDGET_MONITOR) -> float:
    """USD a single chatbot message may cost: the budget-breach monitor's critical threshold.

    Raises:
        CatalogError: the monitor file is unreadable, or its threshold is missing or not a positive number.
    """
    field = ".".join(THRESHOLD_PATH)
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
        for key in THRESHOLD_PATH:
            value = value[key]
    except OSError as exc:
        raise CatalogError(f"cannot read the budget monitor: {exc.strerror}", file=str(path)) from None
    except (ValueError, KeyError, TypeError):
        raise CatalogError(f"{field} must hold the per-message budget in USD", file=str(path)) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise CatalogError(f"{field} must be a positive number of USD, got {value!r}", file=str(path))
    return float(value)
