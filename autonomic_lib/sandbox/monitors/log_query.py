"""Log monitor queries (`type: "log alert"`): their grammar, checked as Datadog's create-monitor reference writes it.

Form (the client's `MonitorsApi.create_monitor` docstring, "Logs Alert Query"; DataDog/datadog-api-client-python
examples/v1/monitors/CreateMonitor.py; https://docs.datadoghq.com/monitors/types/log/):

    logs("<log search>").index("<index>").rollup("<method>"[, "<measure or facet>"]).by("<facet>[,<facet>]")
        .last("<N>m|<N>h") <operator> <number>

- the search follows the log search syntax (the sandbox's logs/search.py subset; what it lacks is a 400);
- `.index()` names the index (optional; the sandbox has one index, so every name reads all logs);
- `.rollup()`: `count` (no argument), `cardinality` of a facet, or a measure aggregated by `avg`, `sum`, `min`,
  `max`, `median` or `pc75`/`pc90`/`pc95`/`pc98`/`pc99` (the log monitor page's list);
- `.by()` (optional): comma-separated facets, one group per value combination (a multi alert);
- `.last()`: `#m` (1 to 2880) or `#h` (1 to 48); operator `<`, `<=`, `>`, `>=`, `==` or `!=`.

Parsed by a small scanner (one pass, no regex over the user's text, bounded length).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from autonomic_lib.errors import QueryError
from autonomic_lib.sandbox.logs.search import read_quoted
from autonomic_lib.sandbox.monitors.unevaluated import trailing_comparison

MAX_QUERY_CHARS = 8192
ROLLUPS = ("count", "cardinality", "avg", "sum", "min", "max", "median", "pc75", "pc90", "pc95", "pc98", "pc99")
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
METHODS = ("index", "rollup", "by", "last")
MAX_WINDOW = {"m": 2880, "h": 48}
UNIT_SECONDS = {"m": 60, "h": 3600}


@dataclass(frozen=True)
class LogMonitorQuery:
    """A parsed log monitor query."""

    search: str
    indexes: tuple[str, ...]
    rollup: str
    measure: str | None  # the facet of `cardinality`, the measure of avg/sum/min/max/median/pcNN
    group_by: tuple[str, ...]
    window: int  # seconds
    operator: str
    threshold: float


def is_log_query(text: str) -> bool:
    """Whether a monitor query is written in the log monitor form."""
    return text.lstrip().startswith("logs(")


def parse_log_monitor(text: str) -> LogMonitorQuery:
    """Parse `logs(...)...last(...) <op> <number>`; QueryError naming what is wrong and where."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the log monitor query is {len(text)} characters long; the sandbox takes at most "
                         f"{MAX_QUERY_CHARS}")
    return _Scanner(text).monitor()


class _Scanner:
    def __init__(self, text: str):
        self.s, self.i = text, 0

    def fail(self, message: str) -> QueryError:
        return QueryError(f"{message} (at position {self.i} of the log monitor query)", query=self.s, position=self.i)

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def expect(self, token: str) -> None:
        self.skip_ws()
        if not self.s.startswith(token, self.i):
            raise self.fail(f"expected {token!r}")
        self.i += len(token)

    def name(self) -> str:
        self.skip_ws()
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "_-"):
            self.i += 1
        return self.s[start:self.i]

    def string(self) -> str:
        """A double-quoted argument; a backslash escapes the next character."""
        self.expect('"')
        text, end = read_quoted(self.s, self.i - 1)
        if end is None:
            raise self.fail("unterminated string")
        self.i = end
        return text

    def arguments(self) -> list[str]:
        self.expect("(")
        args: list[str] = []
        self.skip_ws()
        if self.s.startswith(")", self.i):
            self.i += 1
            return args
        while True:
            args.append(self.string())
            self.skip_ws()
            if self.s.startswith(")", self.i):
                self.i += 1
                return args
            self.expect(",")

    def monitor(self) -> LogMonitorQuery:
        if trailing_comparison(self.s) is None:  # Datadog checks this first (its recorded answer to "query")
            raise QueryError(f"invalid operator specified: a log monitor query ends with <operator> <number> (one "
                             f"of {', '.join(sorted(OPERATORS))})", query=self.s, position=len(self.s))
        if self.name() != "logs":
            raise self.fail('a log monitor query starts with logs("<search>")')
        search = self.arguments()
        if len(search) != 1:
            raise self.fail('logs() takes one quoted search query')
        calls: dict[str, list[str]] = {}
        while True:
            self.skip_ws()
            if not self.s.startswith(".", self.i):
                break
            self.i += 1
            method = self.name()
            if method not in METHODS:
                raise self.fail(f"unknown method .{method}(); expected one of {', '.join(METHODS)}")
            if method in calls:
                raise self.fail(f".{method}() is given twice")
            calls[method] = self.arguments()
        rollup, measure = self.rollup(calls.get("rollup"))
        window = self.window(calls.get("last"))
        self.skip_ws()
        operator = next((op for op in OPERATORS if self.s.startswith(op, self.i)), None)
        if operator is None:
            raise self.fail(f"invalid operator specified: expected one of {', '.join(sorted(OPERATORS))}")
        self.i += len(operator)
        threshold = self.number()
        indexes = tuple(part.strip() for arg in calls.get("index", ["*"]) for part in arg.split(",") if part.strip())
        group_by = tuple(part.strip() for arg in calls.get("by", []) for part in arg.split(",") if part.strip())
        return LogMonitorQuery(search=search[0], indexes=indexes or ("*",), rollup=rollup, measure=measure,
                               group_by=group_by, window=window, operator=operator, threshold=threshold)

    def rollup(self, args: list[str] | None) -> tuple[str, str | None]:
        if args is None:
            raise self.fail('a log monitor needs .rollup("count"), .rollup("cardinality", "<facet>") or '
                            '.rollup("<avg|sum|min|max|median|pcNN>", "<measure>")')
        if not args or args[0] not in ROLLUPS:
            raise self.fail(f"rollup method {args[0] if args else ''!r} is not one of {', '.join(ROLLUPS)}")
        method, rest = args[0], args[1:]
        if method == "count":
            if rest:
                raise self.fail('.rollup("count") takes no measure')
            return method, None
        if len(rest) != 1 or not rest[0].strip():
            what = "facet" if method == "cardinality" else "measure"
            raise self.fail(f'.rollup("{method}", "<{what}>") needs exactly one {what}')
        return method, rest[0].strip()

    def window(self, args: list[str] | None) -> int:
        if args is None or len(args) != 1:
            raise self.fail('a log monitor needs .last("<N>m") or .last("<N>h")')
        text = args[0].strip()
        unit, digits = text[-1:], text[:-1]
        if unit not in MAX_WINDOW or not digits.isascii() or not digits.isdigit() or len(digits) > 5 \
                or not 1 <= int(digits) <= MAX_WINDOW[unit]:
            raise self.fail(f"the time window {text!r} is not #m (1 to 2880) or #h (1 to 48)")
        return int(digits) * UNIT_SECONDS[unit]

    def number(self) -> float:
        self.skip_ws()
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isascii() and (self.s[self.i].isdigit() or self.s[self.i]
                                                                      in "+-.eE")):
            self.i += 1
        text = self.s[start:self.i]
        try:
            value = float(text)
        except ValueError:
            raise self.fail(f"the threshold {text!r} is not a number") from None
        if not math.isfinite(value):
            raise self.fail(f"the threshold {text} is not a finite number")
        self.skip_ws()
        if self.i != len(self.s):
            raise self.fail(f"unexpected {self.s[self.i:self.i + 20]!r} after the threshold")
        return value


__all__ = ["LogMonitorQuery", "ROLLUPS", "is_log_query", "parse_log_monitor"]
