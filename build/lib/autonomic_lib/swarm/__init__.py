"""The self-healing swarm simulation: agents, Auditor, Refiner, Evaluator, cost and latency models, scenarios."""

from __future__ import annotations

from ..errors import ScenarioError
from ..telemetry.prices import PRICES, Price, price_for
from .scenario import (AgentSpec, LoopConfig, Phase, PromptInjection, ProviderSlowdown, Regression, Scenario,
                       get_scenario, load_scenario, scenario_from_dict, seed_demo, steady_swarm)
from .engine import AgentRun, simulate

__all__ = [
    "AgentRun", "AgentSpec", "LoopConfig", "PRICES", "Phase", "Price", "PromptInjection", "ProviderSlowdown",
    "Regression", "Scenario", "ScenarioError", "get_scenario", "load_scenario", "price_for",
    "scenario_from_dict", "seed_demo", "simulate", "steady_swarm",
]

