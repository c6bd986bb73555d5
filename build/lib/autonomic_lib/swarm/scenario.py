"""Scenarios: a timeline of phases (duration, message rate, agents, injected faults) the swarm plays.

A scenario is plain data. It is built in Python (`seed_demo()`, `steady_swarm()`) or loaded from a
YAML/JSON file with `load_scenario`; a bad file gets a ScenarioError naming the file and the field
path (``phases[2].faults[0].spikes``). Outcomes are not in the scenario: faults only change the
simulation's state (token sizes, provider speed, answer quality) and the loop reacts to them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from ..budget import message_budget
from ..errors import ScenarioError
from ..telemetry.prices import PRICES

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_AGENT_ID = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class AgentSpec:
    """A chatbot agent of the swarm and the quality of its first version.

    fail_rate: probability that the Auditor fails one of its v1 answers (a healthy agent ~0.5 %).
    fix_success: probability that one Refiner proposal really fixes it (the Evaluator still checks).
    """

    agent_id: str
    fail_rate: float = 0.005
    fix_success: float = 0.95


@dataclass(frozen=True, kw_only=True)
class PromptInjection:
    """Attackers send `count` messages with huge prompts to random agents of `agents` (all when empty)."""

    count: int = 3
    input_tokens: int = 400_000  # median prompt size; cost emerges from the price table
    agents: tuple[str, ...] = ()
    start: float = 0.0  # seconds into the phase
    end: float | None = None  # seconds into the phase; None = phase end
    type: str = "prompt_injection"


@dataclass(frozen=True, kw_only=True)
class ProviderSlowdown:
    """The model provider slows every call by `factor` during `spikes` windows of `spike_duration` s."""

    spikes: int = 3
    spike_duration: float = 240.0
    gap: float = 300.0  # seconds between the end of one spike and the start of the next
    factor: float = 5.0
    start: float = 0.0
    type: str = "provider_slowdown"

    def windows(self) -> list[tuple[float, float]]:
        """(start, end) offsets into the phase of each slow window."""
        return [(self.start + i * (self.spike_duration + self.gap),
                 self.start + i * (self.spike_duration + self.gap) + self.spike_duration) for i in range(self.spikes)]


@dataclass(frozen=True, kw_only=True)
class Regression:
    """An agent's answers degrade to `fail_rate` (e.g. an upstream model change); unfixable = no prompt fix helps."""

    agent: str
    fail_rate: float = 0.45
    fixable: bool = False
    start: float = 0.0
    end: float | None = None
    type: str = "regression"


Fault = Union[PromptInjection, ProviderSlowdown, Regression]
FAULT_TYPES: dict[str, type] = {"prompt_injection": PromptInjection, "provider_slowdown": ProviderSlowdown,
                                "regression": Regression}


@dataclass(frozen=True, kw_only=True)
class Phase:
    """A stretch of the timeline: `rate` messages per second per agent, with these faults injected.

    history: the phase is past context (the baseline). Live pacing backfills history phases and
    plays the others in real time.
    """

    name: str
    duration: float  # seconds
    rate: float  # messages per second, per agent
    faults: tuple[Fault, ...] = ()
    history: bool = False
    description: str = ""


@dataclass(frozen=True)
class LoopConfig:
    """How the self-healing loop reacts: when the Refiner starts, how the Evaluator decides, when it gives up."""

    window: int = 20  # the Refiner looks at an agent's last `window` audited answers...
    min_failed_cases: int = 4  # ...and starts an optimization once this many of them failed
    test_cases: int = 20  # the Evaluator's test set
    accept_pass_rate: float = 0.9  # a candidate passing at least this share of the test set is deployed
    max_attempts: int = 2  # rejected this many times -> optimization failed
    retry_cooldown: float = 300.0  # seconds before the Refiner retries an agent whose optimization failed
    max_failed_optimizations: int = 2  # then the agent is escalated to a human and the Refiner stops


@dataclass(frozen=True)
class Scenario:
    """A named timeline of phases over a fixed set of agents."""

    name: str
    agents: tuple[AgentSpec, ...]
    phases: tuple[Phase, ...]
    env: str = "demo"
    budget_usd: float = field(default_factory=message_budget)  # USD per message: the budget monitor's threshold
    model: str = "gemini-2.5-flash"
    log_sample_rate: float = 0.05  # share of ordinary messages whose thought process is logged
    loop: LoopConfig = field(default_factory=LoopConfig)
    description: str = ""

    @property
    def duration(self) -> float:
        """Seconds from the first phase's start to the last one's end."""
        return sum(p.duration for p in self.phases)

    def phase_starts(self) -> list[float]:
        """Offset of each phase from the scenario start, in seconds."""
        starts, t = [], 0.0
        for p in self.phases:
            starts.append(t)
            t += p.duration
        return starts


def seed_demo() -> Scenario:
    """The seed's demo flow, preceded by a 4 h baseline.

    The latency monitor (assets/monitors/latency_anomaly.json, which sets its bounds) is an 'agile'
    `anomalies(avg:autonomic.agent.latency.avg{env:demo}, ...)` with hourly seasonality. DATADOG.md 3.5: agile and robust need at least 3 seasons of history
    (hourly -> 3 h) and show no bounds before; 4 h gives three full seasons plus an hour of margin,
    so the first incident is judged against learned bounds. During the baseline agent-03 runs a
    hallucinating v1 that the loop fixes (failed audits -> Refiner -> Evaluator -> v2 deployed).
    Then: 3 prompt-injection messages over budget; 3 provider slowdowns of 4 min (about 25 s
    user-facing latency) 5 min apart, so >= 20 % of the monitor's 15 min alert window is anomalous;
    an unfixable regression on agent-02 whose two optimizations each end in two Evaluator
    rejections (2 x autonomic.optimization.failed, then it is escalated); 20 min of recovery.
    """
    agents = (AgentSpec("agent-01"), AgentSpec("agent-02"), AgentSpec("agent-03", fail_rate=0.35),
              AgentSpec("agent-04"))
    return Scenario(
        name="seed-demo",
        description="The seed's demo: baseline (with one self-healed agent), budget breaches, latency spikes, "
                    "optimization failures, recovery.",
        agents=agents,
        phases=(
            Phase(name="baseline", duration=4 * 3600, rate=0.1, history=True,
                  description="Normal traffic for the anomaly monitor to learn; agent-03's hallucinating v1 is fixed."),
            Phase(name="budget_breach", duration=15 * 60, rate=0.1,
                  faults=(PromptInjection(count=3, input_tokens=400_000, start=60, end=720),),
                  description=f"Three prompt-injection-sized messages cost more than the ${message_budget():.2f} "
                              "budget."),
            Phase(name="latency_spike", duration=30 * 60, rate=0.1,
                  faults=(ProviderSlowdown(spikes=3, spike_duration=240, gap=300, factor=5.0, start=180),),
                  description="Provider slowdown: three 4-minute spikes of ~25 s user-facing latency."),
            Phase(name="optimization_failure", duration=30 * 60, rate=0.1,
                  faults=(Regression(agent="agent-02", fail_rate=0.45, fixable=False),),
                  description="agent-02 regresses in a way no prompt fix repairs; the loop gives up twice."),
            Phase(name="recovery", duration=20 * 60, rate=0.1, description="Normal traffic again."),
        ),
    )


def steady_swarm(agents: int = 100, hours: float = 24.0, rate: float = 1.0, *, log_sample_rate: float = 0.0) -> Scenario:
    """`agents` healthy agents answering `rate` messages/s each for `hours`: the benchmark's steady state."""
    return Scenario(name="steady", env="bench", log_sample_rate=log_sample_rate,
                    agents=tuple(AgentSpec(f"agent-{i:03d}") for i in range(agents)),
                    phases=(Phase(name="steady", duration=hours * 3600, rate=rate),),
                    description=f"{agents} healthy agents, {rate} msg/s each, {hours} h.")


SCENARIOS: dict[str, Callable[[], Scenario]] = {"seed-demo": seed_demo, "steady": steady_swarm}


def get_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or one loaded from a .yaml/.yml/.json file."""
    if str(name_or_path) in SCENARIOS:
        return SCENARIOS[str(name_or_path)]()
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        return load_scenario(path)
    raise ScenarioError(f"unknown scenario {str(name_or_path)!r}; built-in: {', '.join(SCENARIOS)}, "
                        "or give the path of a .yaml or .json file")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (YAML or JSON) and check every field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError carry the line and column
        raise ScenarioError(f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}",
                            file=str(path)) from None
    return scenario_from_dict(data, file=str(path))


def scenario_from_dict(data: Any, *, file: str | None = None) -> Scenario:
    """Build a Scenario from plain data (parsed YAML/JSON), naming the field of the first problem."""
    return _Reader(file).scenario(data)


class _Reader:
    """Checks plain data field by field; every error carries the file and the field path."""

    def __init__(self, file: str | None):
        self.file = file

    def fail(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(message, field=path, file=self.file)

    def mapping(self, data: Any, path: str, cls: type) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(path or "(top level)", f"must be a mapping of {cls.__name__} fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise self.fail(_join(path, str(key)), f"unknown field; {cls.__name__} has {', '.join(sorted(known))}")
        return dict(data)

    def number(self, data: Mapping[str, Any], key: str, path: str, default: float | None = None, *,
               low: float | None = 0.0, high: float | None = None, integer: bool = False, duration: bool = False,
               open_low: bool = False) -> Any:
        where = _join(path, key)
        if key not in data or data[key] is None:
            if default is None:
                raise self.fail(where, "is required")
            return default
        raw = data[key]
        if duration and isinstance(raw, str):
            m = _DURATION.fullmatch(raw)
            if not m:
                raise self.fail(where, f"{raw!r} is not a duration (e.g. 90, '90s', '15m', '4h')")
            value: float = float(m.group(1)) * _UNITS[m.group(2)]
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
            kind = "an integer" if integer else ("a number of seconds or a duration like '15m'" if duration else "a number")
            raise self.fail(where, f"must be {kind}, got {raw!r}")
        else:
            value = float(raw)
        if integer and value != int(value):
            raise self.fail(where, f"must be an integer, got {raw!r}")
        if low is not None and (value < low or (open_low and value == low)):
            raise self.fail(where, f"must be {'>' if open_low else '>='} {low:g}, got {raw!r}")
        if high is not None and value > high:
            raise self.fail(where, f"must be <= {high:g}, got {raw!r}")
        return int(value) if integer else value

    def name(self, data: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str], what: str,
             default: str | None = None) -> str:
        where = _join(path, key)
        raw = data.get(key, default)
        if raw is None:
            raise self.fail(where, "is required")
        if not isinstance(raw, str) or not pattern.fullmatch(raw):
            raise self.fail(where, f"{raw!r} is not a valid {what} (must match {pattern.pattern}: it becomes a tag value)")
        return raw

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        raw = data.get(key, default)
        if not isinstance(raw, bool):
            raise self.fail(_join(path, key), f"must be true or false, got {raw!r}")
        return raw

    def items(self, data: Mapping[str, Any], key: str, path: str, required: bool = True) -> list[Any]:
        raw = data.get(key)
        if raw is None and not required:
            return []
        if not isinstance(raw, list) or (required and not raw):
            raise self.fail(_join(path, key), "must be a non-empty list" if required else "must be a list")
        return raw

    def scenario(self, data: Any) -> Scenario:
        d = self.mapping(data, "", Scenario)
        agents = [self.agent(a, f"agents[{i}]") for i, a in enumerate(self.items(d, "agents", ""))]
        ids = [a.agent_id for a in agents]
        for i, agent_id in enumerate(ids):
            if agent_id in ids[:i]:
                raise self.fail(f"agents[{i}].agent_id", f"{agent_id!r} appears twice")
        phases = [self.phase(p, f"phases[{i}]", set(ids)) for i, p in enumerate(self.items(d, "phases", ""))]
        names = [p.name for p in phases]
        for i, phase_name in enumerate(names):
            if phase_name in names[:i]:
                raise self.fail(f"phases[{i}].name", f"{phase_name!r} appears twice (phase names become tag values)")
        loop = self.loop(d.get("loop", {}), "loop")
        model = d.get("model", "gemini-2.5-flash")
        if model not in PRICES:
            raise self.fail("model", f"{model!r} has no price; known: {', '.join(sorted(PRICES))}")
        description = d.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", "must be text")
        return Scenario(
            name=self.name(d, "name", "", re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"), "scenario name"),
            agents=tuple(agents), phases=tuple(phases),
            env=self.name(d, "env", "", re.compile(r"[a-z][a-z0-9_-]{0,31}"), "env tag value", default="demo"),
            budget_usd=self.number(d, "budget_usd", "", message_budget(), open_low=True),
            model=model, log_sample_rate=self.number(d, "log_sample_rate", "", 0.05, high=1.0),
            loop=loop, description=description)

    def agent(self, data: Any, path: str) -> AgentSpec:
        if isinstance(data, str):
            data = {"agent_id": data}
        d = self.mapping(data, path, AgentSpec)
        return AgentSpec(self.name(d, "agent_id", path, _AGENT_ID, "agent_id"),
                         self.number(d, "fail_rate", path, 0.005, high=1.0),
                         self.number(d, "fix_success", path, 0.95, high=1.0))

    def phase(self, data: Any, path: str, agent_ids: set[str]) -> Phase:
        d = self.mapping(data, path, Phase)
        faults = tuple(self.fault(f, f"{path}.faults[{i}]", agent_ids)
                       for i, f in enumerate(self.items(d, "faults", path, required=False)))
        description = d.get("description", "")
        if not isinstance(description, str):
            raise self.fail(_join(path, "description"), "must be text")
        return Phase(name=self.name(d, "name", path, _NAME, "phase name"),
                     duration=self.number(d, "duration", path, duration=True, open_low=True),
                     rate=self.number(d, "rate", path, open_low=True, high=1000.0),
                     faults=faults, history=self.boolean(d, "history", path, False), description=description)

    def fault(self, data: Any, path: str, agent_ids: set[str]) -> Fault:
        if not isinstance(data, Mapping) or "type" not in data:
            raise self.fail(_join(path, "type"), f"is required: one of {', '.join(FAULT_TYPES)}")
        cls = FAULT_TYPES.get(data["type"])
        if cls is None:
            raise self.fail(_join(path, "type"), f"{data['type']!r} is not one of {', '.join(FAULT_TYPES)}")
        d = self.mapping(data, path, cls)

        def agent_ref(raw: Any, where: str) -> str:
            if raw not in agent_ids:
                raise self.fail(where, f"{raw!r} is not one of the scenario's agents ({', '.join(sorted(agent_ids))})")
            return str(raw)

        start = self.number(d, "start", path, 0.0, duration=True)
        if cls is PromptInjection:
            targets = tuple(agent_ref(a, f"{path}.agents[{i}]") for i, a in enumerate(self.items(d, "agents", path, False)))
            end = self.number(d, "end", path, -1.0, low=None, duration=True)
            return PromptInjection(count=self.number(d, "count", path, 3, low=1, integer=True),
                                   input_tokens=self.number(d, "input_tokens", path, 400_000, low=1, high=1_048_576,
                                                            integer=True),
                                   agents=targets, start=start, end=None if end == -1.0 else end)
        if cls is ProviderSlowdown:
            return ProviderSlowdown(spikes=self.number(d, "spikes", path, 3, low=1, integer=True),
                                    spike_duration=self.number(d, "spike_duration", path, 240.0, duration=True,
                                                               open_low=True),
                                    gap=self.number(d, "gap", path, 300.0, duration=True),
                                    factor=self.number(d, "factor", path, 5.0, low=1.0), start=start)
        end = self.number(d, "end", path, -1.0, low=None, duration=True)
        return Regression(agent=agent_ref(d.get("agent"), _join(path, "agent")),
                          fail_rate=self.number(d, "fail_rate", path, 0.45, high=1.0),
                          fixable=self.boolean(d, "fixable", path, False), start=start,
                          end=None if end == -1.0 else end)

    def loop(self, data: Any, path: str) -> LoopConfig:
        d = self.mapping(data, path, LoopConfig)
        base = LoopConfig()
        config = LoopConfig(
            window=self.number(d, "window", path, base.window, low=1, integer=True),
            min_failed_cases=self.number(d, "min_failed_cases", path, base.min_failed_cases, low=1, integer=True),
            test_cases=self.number(d, "test_cases", path, base.test_cases, low=1, integer=True),
            accept_pass_rate=self.number(d, "accept_pass_rate", path, base.accept_pass_rate, high=1.0),
            max_attempts=self.number(d, "max_attempts", path, base.max_attempts, low=1, integer=True),
            retry_cooldown=self.number(d, "retry_cooldown", path, base.retry_cooldown, duration=True),
            max_failed_optimizations=self.number(d, "max_failed_optimizations", path, base.max_failed_optimizations,
                                                 low=1, integer=True))
        if config.min_failed_cases > config.window:
            raise self.fail(_join(path, "min_failed_cases"), f"must be <= window ({config.window})")
        return config


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
