"""Formula-and-functions monitor queries: `formula("query1 / query2").last("15m") >= 0.8`.

The form of the v1 spec's cost alert query, `formula(query).timeframe_type(time_window).function(parameter)
operator #` (the client's `MonitorsApi.create_monitor` docstring), which the client's RUM example uses with
`options.variables` naming the queries (`CreateMonitor_3883669300`: `formula("query2 / query1 * 100").last("15m")
>= 0.8`). The formula is v2 formula syntax over those names (`parse_formula`); timeframe_type is `last` or
`current`, the window `<n>m|h|d|w`; function, when given, is `change`, `anomaly` or `forecast` with its documented
parameters. Before the window may come `.rollup("<aggregator>")` (avg, sum, min, max, count): the metric monitors
over aggregate-filtered/augmented variables of the client's examples (`CreateMonitor_2082938111`,
`_2608995690`: `formula("query1").rollup("sum").last("5m") > 100`), which Datadog's recorded answer stores as given.
A hand-written scanner reads it in one pass (no pattern runs over the text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from autonomic_lib.errors import QueryError
from autonomic_lib.query.language import Expr, parse_formula

TIMEFRAMES = ("last", "current")
FUNCTIONS = ("change", "anomaly", "forecast")
ROLLUPS = ("avg", "sum", "min", "max", "count")  # .rollup()'s aggregators (docs: dashboards/functions/rollup)
COMPARATORS = (">=", "<=", "==", "!=", ">", "<")
MAX_TEXT = 4000  # characters (a sandbox bound, as for every query)
_UNITS = "mhdw"


@dataclass(frozen=True)
class FormulaMonitorQuery:
    """A parsed formula monitor query."""

    formula: Expr
    timeframe: str  # last | current
    window: str  # e.g. "15m", "7d"
    function: str | None  # change | anomaly | forecast, None for a threshold
    parameters: tuple[str, ...]
    operator: str
    threshold: float
    rollup: str | None = None  # the time aggregation of `.rollup("sum")` before the window, None when not given


def is_formula_query(query: str) -> bool:
    """Whether a monitor query is written as formula(...) over options.variables."""
    return query.lstrip().startswith("formula(")


def parse_formula_monitor(text: str, names: Iterable[str]) -> FormulaMonitorQuery:
    """Parse `formula("...")[.rollup("sum")].last("15m")[.function(...)] <op> <number>`; `names` are
    options.variables' names.

    Raises:
        QueryError: the message names what was expected and where.
    """
    if len(text) > MAX_TEXT:
        raise QueryError(f"the query is longer than {MAX_TEXT} characters", query=text[:80], position=MAX_TEXT)
    scan = _Scanner(text)
    scan.expect("formula(")
    formula_text, at = scan.string(), scan.pos
    scan.expect(")")
    try:
        formula = parse_formula(formula_text, names)
    except QueryError as exc:
        raise QueryError(f"in formula({formula_text!r}): {exc}", query=text, position=at) from None
    calls: list[tuple[str, tuple[str, ...], int]] = []
    while scan.peek("."):
        scan.expect(".")
        start = scan.pos
        name = scan.word()
        scan.expect("(")
        args = scan.arguments()
        calls.append((name, args, start))
    operator = scan.comparator()
    threshold = scan.number()
    scan.end()
    rollup: str | None = None
    if calls and calls[0][0] == "rollup":  # formula("query1").rollup("sum").last("5m"): the client's examples
        _, rollup_args, pos = calls.pop(0)
        if len(rollup_args) != 1 or rollup_args[0] not in ROLLUPS:
            raise QueryError(f".rollup() takes one of {', '.join(ROLLUPS)}", query=text, position=pos)
        rollup = rollup_args[0]
    if not calls or calls[0][0] not in TIMEFRAMES:
        raise QueryError("expected [.rollup(\"<aggregator>\")] then .last(\"<window>\") or .current(\"<window>\") "
                         "after formula(...)", query=text, position=calls[0][2] if calls else scan.pos)
    timeframe, window_args, pos = calls[0]
    if len(window_args) != 1 or not _is_window(window_args[0]):
        raise QueryError(f".{timeframe}() takes one window such as \"15m\" or \"7d\"", query=text, position=pos)
    function: str | None = None
    parameters: tuple[str, ...] = ()
    if len(calls) > 2 or (len(calls) == 2 and calls[1][0] not in FUNCTIONS):
        name, _, pos = calls[-1] if len(calls) > 2 else calls[1]
        raise QueryError(f"unexpected .{name}(): after the window comes at most one of "
                         f"{', '.join(f'.{f}()' for f in FUNCTIONS)}", query=text, position=pos)
    if len(calls) == 2:
        function, parameters = calls[1][0], calls[1][1]
    return FormulaMonitorQuery(formula, timeframe, window_args[0], function, parameters, operator, threshold, rollup)


def _is_window(text: str) -> bool:
    return len(text) >= 2 and text[:-1].isascii() and text[:-1].isdigit() and len(text) <= 10 \
        and text[-1] in _UNITS and int(text[:-1]) > 0


class _Scanner:
    """One pass over the query: each method consumes what it reads or raises QueryError at the position."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def _fail(self, expected: str) -> QueryError:
        found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of query"
        return QueryError(f"unexpected {found} at position {self.pos}: expected {expected}", query=self.text,
                          position=self.pos)

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, literal: str) -> bool:
        self._skip()
        return self.text.startswith(literal, self.pos)

    def expect(self, literal: str) -> None:
        if not self.peek(literal):
            raise self._fail(repr(literal))
        self.pos += len(literal)

    def string(self) -> str:
        self._skip()
        quote = self.text[self.pos] if self.pos < len(self.text) else ""
        if quote not in ('"', "'"):
            raise self._fail("a quoted string")
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self._fail("a closing quote")
        value, self.pos = self.text[self.pos + 1:end], end + 1
        return value

    def word(self) -> str:
        self._skip()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isascii() and
                                             (self.text[self.pos].isalnum() or self.text[self.pos] == "_")):
            self.pos += 1
        if start == self.pos:
            raise self._fail("a function name")
        return self.text[start:self.pos]

    def arguments(self) -> tuple[str, ...]:
        """Arguments up to the closing parenthesis: quoted strings, or bare `word` / `key=value` text."""
        args: list[str] = []
        while not self.peek(")"):
            if args:
                self.expect(",")
            self._skip()
            if self.peek('"') or self.peek("'"):
                args.append(self.string())
                continue
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in ",)" and not self.text[self.pos].isspace():
                self.pos += 1
            if start == self.pos:
                raise self._fail("an argument or ')'")
            args.append(self.text[start:self.pos])
        self.expect(")")
        return tuple(args)

    def comparator(self) -> str:
        self._skip()
        for op in COMPARATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        raise self._fail("a comparison (> >= < <= == !=)")

    def number(self) -> float:
        self._skip()
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] == "-":
            self.pos += 1
        while self.pos < len(self.text) and (self.text[self.pos].isascii() and self.text[self.pos].isdigit()
                                             or self.text[self.pos] == "."):
            self.pos += 1
        try:
            value = float(self.text[start:self.pos])
        except ValueError:
            self.pos = start
            raise self._fail("a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            self.pos = start
            raise self._fail("a finite number")
        return value

    def end(self) -> None:
        self._skip()
        if self.pos != len(self.text):
            raise self._fail("end of query")
