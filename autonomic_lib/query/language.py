"""Datadog's metric query language as a lark grammar and AST: the sandbox answers real queries, refuses the rest."""

from __future__ import annotations

import functools
import re
from dataclasses import KW_ONLY, dataclass
from typing import Iterable, Iterator, Union

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from autonomic_lib.errors import QueryError, UnsupportedQueryError
from autonomic_lib.query.glob import Glob
from autonomic_lib.query.windows import CUMULATIVE_LONGEST, cumulative_period, shift_seconds, window_seconds

SPACE_AGGREGATORS = ("avg", "sum", "min", "max")
ROLLUP_METHODS = ("avg", "sum", "min", "max", "count", "last")
MONITOR_TIME_AGGREGATORS = ("avg", "sum", "min", "max", "last", "change", "pct_change")
CHANGE_AGGREGATORS = ("change", "pct_change")
CHANGE_TIME_AGGREGATORS = ("avg", "sum", "min", "max")  # DATADOG.md 3.4: the time_aggr of the change form
_PERCENTILE = re.compile(r"p\d+(\.\d+)?")
_TAG_CHARS = r"A-Za-z0-9_\-.\/:*$"

# The grammar accepts Datadog syntax the sandbox does not imitate (functions, .fill(), template variables, change
# monitors) so that the refusal names it. Keywords carry a priority and a look-ahead so that tags such as `android`
# or `not:x` still lex as tags; the contextual lexer keeps tag characters (`-`, `/`, `*`) apart from arithmetic.
_GRAMMAR = r"""
?expr_start: expr
monitor: NAME "(" window_spec ")" ":" expr COMPARATOR threshold
window_spec: WINDOW                                     -> window
           | NAME "(" WINDOW ")" "," (TIMESHIFT | WINDOW) -> change_window
threshold: NUMBER | MINUS NUMBER

?expr: product
     | expr (PLUS | MINUS) product -> binop
?product: unary
     | product (STAR | SLASH) unary -> binop
?unary: atom
     | MINUS unary        -> neg
?atom: NUMBER             -> number
     | NAME               -> ref
     | metric_query
     | call
     | "(" expr ")"
call: NAME "(" [arg ("," arg)*] ")"
?arg: expr
    | STRING              -> string
    | NAME "=" (STRING | NUMBER | MINUS NUMBER) -> kwarg

metric_query: (NAME ":")? NAME scope group_by? modifier*
scope: "{" scope_or "}"
scope_or: scope_and (OR scope_and)*                 -> boolean
scope_and: scope_not ((AND | COMMA) scope_not)*     -> boolean
scope_not: (NOT | BANG) scope_not | scope_atom
?scope_atom: TAG                                  -> term
          | TAG NOT? IN "(" TAG ("," TAG)* ")"    -> in_list
          | "(" scope_or ")"
group_by: BY "{" TAG ("," TAG)* "}"
modifier: DOT NAME "(" [modifier_arg ("," modifier_arg)*] ")"
?modifier_arg: NAME | NUMBER | STRING

AND.2: /(AND|and)(?![TAGCHARS])/
OR.2: /(OR|or)(?![TAGCHARS])/
NOT.2: /(NOT|not)(?![TAGCHARS])/
IN.2: /(IN|in)(?![TAGCHARS])/
BY.2: /by(?![A-Za-z0-9_.])/
WINDOW.3: /(last|current)_[0-9]+(mo|[a-z])(?![A-Za-z0-9_.])/
TIMESHIFT: /[0-9]+[a-z]_ago/
TAG: /[TAGCHARS]+/
NAME: /[A-Za-z][A-Za-z0-9_.]*/
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /'[^']*'/ | /"[^"]*"/
COMPARATOR: />=|<=|==|!=|>|</
COMMA: ","
BANG: "!"
MINUS: "-"
PLUS: "+"
STAR: "*"
SLASH: "/"
DOT: "."
%ignore /\s+/
""".replace("TAGCHARS", _TAG_CHARS)

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", start=["expr_start", "monitor"])
# A sandbox bound (Datadog documents none): the LALR parse is iterative, but the tree is turned into the AST, and the
# AST evaluated and rendered, recursively; 3000 nested `-` once ended in a RecursionError (a 500). Each operator,
# function call, unary `-`/`!`/NOT and parenthesised tag filter nests a level; real queries stay under 20.
MAX_QUERY_DEPTH = 100
MAX_ROLLUP_SECONDS = 365 * 86400  # a sandbox bound: a longer rollup shows one point for any real range

_READABLE = {"NAME": "a name", "NUMBER": "a number", "STRING": "a quoted string", "TAG": "a tag", "BY": "'by'",
             "WINDOW": "a window like last_5m", "TIMESHIFT": "a timeshift like 5m_ago", "$END": "end of query",
             "COMPARATOR": "a comparison (> >= < <= == !=)"}  # other terminals read as their text or name


# ---------------------------------------------------------------------------------------------------- scopes
class Scope:
    """A tag filter over a series' lowercase `key:value` tags."""

    def matches(self, tags: tuple[str, ...]) -> bool:
        """True when a series with these tags passes the filter (case-insensitive)."""
        if isinstance(self, And):
            return all(op.matches(tags) for op in self.operands)
        if isinstance(self, Or):
            return any(op.matches(tags) for op in self.operands)
        if isinstance(self, Not):
            return not self.operand.matches(tags)
        if isinstance(self, TemplateVar):
            raise UnsupportedQueryError(f"template variable {self.text} must be resolved before the query is evaluated")
        if not isinstance(self, TagTerm):
            return True  # AllTags
        wanted = self.value if self.key is None else f"{self.key}:{self.value}"
        if not self.has_wildcard:
            return any(t.lower() == wanted for t in tags)
        pattern = Glob.compile(wanted, single=False)  # Datadog's tag filters know `*` only
        return any(pattern.fullmatch(t.lower()) for t in tags)

    def render(self) -> str:
        """Canonical text: `,` and `!` when that suffices, else AND/OR/NOT (the two styles never mix)."""
        parts = self.operands if isinstance(self, And) else (self,)
        symbolic = all(isinstance(p.operand if isinstance(p, Not) else p, _LEAVES) for p in parts)
        return _render(self, symbolic)

    def template_vars(self) -> tuple[str, ...]:
        """Unresolved dashboard template variables (`$env`) in this filter, in order."""
        if isinstance(self, TemplateVar):
            return (self.text,)
        children = self.operands if isinstance(self, (And, Or)) else (self.operand,) if isinstance(self, Not) else ()
        return tuple(v for child in children for v in child.template_vars())


@dataclass(frozen=True)
class AllTags(Scope):
    """`*`: every series."""


@dataclass(frozen=True)
class TagTerm(Scope):
    """`key:value` (key None for a bare tag); `*` anywhere is a glob."""

    key: str | None
    value: str
    has_wildcard: bool = False


@dataclass(frozen=True)
class TemplateVar(Scope):
    """A dashboard template variable such as `$env`, kept for an asset linter to substitute."""

    text: str


@dataclass(frozen=True)
class Not(Scope):
    """Negation (`!term` or `NOT ...`)."""

    operand: Scope


@dataclass(frozen=True)
class And(Scope):
    """Conjunction (`,` or `AND`)."""

    operands: tuple[Scope, ...]


@dataclass(frozen=True)
class Or(Scope):
    """Disjunction (`OR`, or the expansion of `key IN (...)`)."""

    operands: tuple[Scope, ...]


_LEAVES = (TagTerm, TemplateVar, AllTags)


def _render(scope: Scope, symbolic: bool) -> str:
    if isinstance(scope, AllTags):
        return "*"
    if isinstance(scope, TemplateVar):
        return scope.text
    if isinstance(scope, TagTerm):
        return scope.value if scope.key is None else f"{scope.key}:{scope.value}"
    if isinstance(scope, Not):
        inner = _render(scope.operand, symbolic)
        return "!" + inner if symbolic else "NOT " + (inner if isinstance(scope.operand, _LEAVES) else f"({inner})")
    if isinstance(scope, And):
        if symbolic:
            return ",".join(_render(op, True) for op in scope.operands)
        return " AND ".join(f"({_render(op, False)})" if isinstance(op, Or) else _render(op, False)
                            for op in scope.operands)
    assert isinstance(scope, Or)
    return " OR ".join(_render(op, False) for op in scope.operands)


# ---------------------------------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class MetricQuery:
    """`[space_aggr:]metric{scope} [by {keys}][.as_count()|.as_rate()][.rollup(method[, seconds])]`."""

    space_aggr: str | None
    metric: str
    scope: Scope
    _: KW_ONLY
    group_by: tuple[str, ...] = ()
    modifier: str | None = None  # "as_count" | "as_rate"
    rollup_method: str | None = None
    rollup_seconds: int | None = None

    def suffix(self) -> str:
        """The written modifiers in canonical order, e.g. `.as_count().rollup(sum, 60)`."""
        args = ", ".join(str(a) for a in (self.rollup_method, self.rollup_seconds) if a is not None)
        return (f".{self.modifier}()" if self.modifier else "") + (f".rollup({args})" if args else "")

    def render(self) -> str:
        """Canonical query text."""
        aggr = f"{self.space_aggr}:" if self.space_aggr else ""
        by = f" by {{{','.join(self.group_by)}}}" if self.group_by else ""
        return f"{aggr}{self.metric}{{{self.scope.render()}}}{by}{self.suffix()}"


@dataclass(frozen=True)
class Number:
    """A numeric constant."""

    value: float


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True)
class BinaryOp:
    """Arithmetic: op is one of `+ - * /`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class FunctionCall:
    """`name(args..., key=value...)`; positional args are expressions or quoted strings (as str)."""

    name: str
    args: tuple[Union[Expr, str], ...] = ()
    kwargs: tuple[tuple[str, Union[str, int, float]], ...] = ()


@dataclass(frozen=True)
class QueryRef:
    """A named query referenced from a v2 formula (`a`, `query1`)."""

    name: str


Expr = Union[MetricQuery, Number, Negate, BinaryOp, FunctionCall, QueryRef]


@dataclass(frozen=True)
class ChangeSpec:
    """The change form's inside, `change(avg(last_5m),1h_ago)`: the window's time aggregation (`avg`) and the
    timeshift in seconds the series is compared with."""

    time_aggr: str
    shift: int


@dataclass(frozen=True)
class MonitorQuery:
    """`time_aggr(last_Nx):<expression> <operator> <threshold>`, or the change form
    `change|pct_change(time_aggr(window),timeshift):...` (time_aggr the change aggregator, `change` its inside).

    `window_seconds` is the window's length; for a cumulative window (`current_1d`: `cumulative` is "hour", "day"
    or "month") the longest the period can be, the window itself running from the period's start.
    """

    time_aggr: str
    window_seconds: int
    expression: Expr
    operator: str
    threshold: float
    _: KW_ONLY
    cumulative: str | None = None
    change: ChangeSpec | None = None


# ---------------------------------------------------------------------------------------------------- parsing
def metric_queries(expr: object) -> Iterator[MetricQuery]:
    """Every metric query inside an expression, in order: arithmetic operands and function arguments included."""
    if isinstance(expr, MetricQuery):
        yield expr
    elif isinstance(expr, BinaryOp):
        yield from metric_queries(expr.left)
        yield from metric_queries(expr.right)
    elif isinstance(expr, Negate):
        yield from metric_queries(expr.operand)
    elif isinstance(expr, FunctionCall):
        for arg in expr.args:
            yield from metric_queries(arg)


def render_expr(expr: Expr | str) -> str:
    """Query text of an expression (the inverse of parse_query, up to spacing and parentheses)."""
    if isinstance(expr, str):
        return repr(expr)
    if isinstance(expr, MetricQuery):
        return expr.render()
    if isinstance(expr, Number):
        return str(int(expr.value)) if float(expr.value).is_integer() else repr(float(expr.value))
    if isinstance(expr, QueryRef):
        return expr.name
    if isinstance(expr, Negate):
        return f"-({render_expr(expr.operand)})"
    if isinstance(expr, BinaryOp):
        return f"({render_expr(expr.left)}) {expr.op} ({render_expr(expr.right)})"
    if isinstance(expr, FunctionCall):
        args = [render_expr(a) for a in expr.args] + [f"{k}={v!r}" for k, v in expr.kwargs]
        return f"{expr.name}({', '.join(args)})"
    return str(expr)


def parse_query(text: str) -> Expr:
    """Parse a classic query (metric queries, arithmetic, functions); raises QueryError with the position."""
    return _parse_cached(text, "expr_start", None)


def parse_formula(text: str, names: Iterable[str]) -> Expr:
    """Parse a v2 formula whose bare identifiers must be among `names` (the request's query names)."""
    return _parse_cached(text, "expr_start", frozenset(names))


def parse_monitor(text: str) -> MonitorQuery:
    """Parse a metric-alert monitor query such as `avg(last_5m):avg:m{*} > 1`."""
    return _parse_cached(text, "monitor", None)


@functools.lru_cache(maxsize=2048)
def _parse_cached(text: str, start: str, names: frozenset[str] | None):
    try:
        tree = _PARSER.parse(text, start=start)
    except UnexpectedInput as exc:
        message, pos = _syntax_message(text, exc)
        raise QueryError(message, query=text, position=pos) from None
    if tree_depth(tree) > MAX_QUERY_DEPTH:
        raise QueryError(f"the query is nested more than {MAX_QUERY_DEPTH} levels deep (operators, function calls, "
                         "negations and tag filter groups each add a level)", query=text, position=0)
    try:
        return _Builder(text, names).transform(tree)
    except VisitError as exc:  # lark wraps errors raised by the transformer
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise


def tree_depth(tree: Tree) -> int:
    """How deep a parse tree nests, counted without recursion (the point is to refuse trees too deep to recurse)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _syntax_message(text: str, exc: UnexpectedInput) -> tuple[str, int]:
    """A readable message naming what was found and what was expected there, and the character position."""
    expected, found, pos = getattr(exc, "expected", ()), "end of query", len(text.rstrip())
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        expected, found, pos = exc.allowed, repr(text[at]), at
    elif isinstance(exc, UnexpectedToken):
        expected = exc.accepts or exc.expected  # accepts follows pending reductions, so it is the exact set
        if exc.token.type != "$END":  # lark puts $END at the last token; the reader expects "at the end"
            found, pos = repr(str(exc.token)), exc.token.start_pos or 0
    names = sorted({_readable(t, text, pos) for t in expected})
    want = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else (names[0] if names else "nothing")
    after_name = "LBRACE" in expected and re.search(r"[A-Za-z0-9_.]$", text[:pos])
    hint = " (a metric name has only letters, digits, '_' and '.', then a {scope})" if after_name else ""
    return f"unexpected {found} at position {pos}: expected {want}{hint}", pos


def _readable(terminal: str, text: str, pos: int) -> str:
    if terminal == "NAME" and text[:pos].rstrip().endswith(":"):
        return "a metric name (a letter, then letters, digits, '_' or '.')"
    if terminal in _READABLE:
        return _READABLE[terminal]
    try:
        pattern = _PARSER.get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal


@v_args(inline=True)
class _Builder(Transformer):
    """Turns the lark tree into the AST, validating what the grammar leaves open (names, aggregators, modifiers)."""

    def __init__(self, text: str, names: frozenset[str] | None):
        super().__init__()
        self.text, self.names = text, names
        self._styles: dict[str, int] = {}  # operator style -> first position, for the current tag filter

    def _fail(self, message: str, pos: int | None, unsupported: bool = False) -> QueryError:
        pos = pos or 0  # lark gives None only for tokens it made up, which never reach a refusal
        cls = UnsupportedQueryError if unsupported else QueryError
        return cls(f"{message} at position {pos}", query=self.text, position=pos)

    # ----- expressions
    def number(self, tok):
        return Number(float(tok))

    def neg(self, _minus, operand):
        return Negate(operand)

    def binop(self, left, op, right):
        return BinaryOp(str(op), left, right)

    def ref(self, tok):
        if self.names is None:
            raise self._fail(f"metric {str(tok)!r} needs a scope, e.g. {tok}{{*}}", tok.start_pos)
        if str(tok) not in self.names:
            raise self._fail(f"unknown query name {str(tok)!r} (known: {', '.join(sorted(self.names)) or 'none'})",
                             tok.start_pos)
        return QueryRef(str(tok))

    def string(self, tok):
        return str(tok)[1:-1]

    def kwarg(self, name, *toks):
        tok = toks[-1]
        value = tok[1:-1] if tok.type == "STRING" else int(tok) if tok.isdigit() else float(tok)
        return (str(name), -value if len(toks) == 2 else value)

    def call(self, name, *args):
        args = [a for a in args if a is not None]
        keywords = [a for a in args if isinstance(a, tuple)]
        positional = [a for a in args if not isinstance(a, tuple)]
        if keywords and args.index(keywords[0]) < len(positional):
            raise self._fail(f"positional argument after keyword arguments in {name}()", name.start_pos)
        return FunctionCall(str(name), tuple(positional), tuple(keywords))

    # ----- metric queries
    def metric_query(self, *parts):
        aggr = None
        if isinstance(parts[1], Token):  # `aggr:metric{...}`
            aggr, parts = parts[0], parts[1:]
            if aggr not in SPACE_AGGREGATORS and not _PERCENTILE.fullmatch(aggr):
                raise self._fail(f"unknown space aggregator {str(aggr)!r}; expected one of "
                                 f"{', '.join(SPACE_AGGREGATORS)}", aggr.start_pos)
        metric, scope, *rest = parts
        if self.names is not None:
            raise self._fail("a formula references queries by name; metric queries are not allowed in it",
                             metric.start_pos)
        found: dict[str, object] = {"by": ()}
        for kind, pos, value in rest:
            if kind in found and kind != "by":
                what = ".as_count()/.as_rate()" if kind == "modifier" else ".rollup()"
                raise self._fail(f"{what} may appear only once", pos)
            found[kind] = value
        method, seconds = found.get("rollup", (None, None))
        return MetricQuery(aggr and str(aggr), str(metric), scope, group_by=found["by"], modifier=found.get("modifier"),
                           rollup_method=method, rollup_seconds=seconds)

    def group_by(self, by, *keys):
        for key in keys:
            if ":" in key or "*" in key or "$" in key:
                raise self._fail(f"'by' takes tag keys, not {str(key)!r}", key.start_pos)
        return ("by", by.start_pos, tuple(str(k).lower() for k in keys))

    def modifier(self, dot, name, *args):
        args = [a for a in args if a is not None]
        pos, fn = dot.start_pos, str(name)
        if fn in ("as_count", "as_rate"):
            if args:
                raise self._fail(f".{fn}() takes no arguments", pos)
            return ("modifier", pos, fn)
        if fn == "rollup":
            return ("rollup", pos, self._rollup_args(args, pos))
        if fn in ("fill", "weighted"):
            raise self._fail(f".{fn}() is not supported by the sandbox query engine", pos, unsupported=True)
        raise self._fail(f"unknown modifier .{fn}(); expected .as_count(), .as_rate() or .rollup()", pos)

    def _rollup_args(self, args: list[Token], pos: int) -> tuple[str | None, int | None]:
        method = str(args.pop(0)) if args and args[0].type == "NAME" else None
        if method is not None and method not in ROLLUP_METHODS:
            raise self._fail(f"unknown rollup method {method!r}; expected one of {', '.join(ROLLUP_METHODS)}", pos)
        if args and args[0].type == "STRING":
            raise self._fail(f"calendar rollup {args[0]} is not supported by the sandbox query engine", pos,
                             unsupported=True)
        if args and (args[0].type != "NUMBER" or not args[0].isdigit() or len(args[0]) > 9
                     or not 1 <= int(args[0]) <= MAX_ROLLUP_SECONDS):
            raise self._fail(f"rollup interval must be a whole number of seconds from 1 to {MAX_ROLLUP_SECONDS} (a "
                             f"year), not {str(args[0])[:30]!r}", pos)
        seconds = int(args.pop(0)) if args else None
        if args or (method is None and seconds is None):
            raise self._fail("expected .rollup(method[, seconds])", pos)
        return method, seconds

    # ----- scopes (built bottom-up: a filter's terms come before the next filter's)
    def boolean(self, *parts):
        self._check_style(parts)
        operands = tuple(p for p in parts if not isinstance(p, Token))
        if len(operands) == 1:
            return operands[0]
        return Or(operands) if parts[1].type == "OR" else And(operands)

    def scope_not(self, *parts):
        self._check_style(parts)
        return parts[0] if len(parts) == 1 else Not(parts[1])

    def term(self, tok):
        value = str(tok)
        if "$" in value:
            return TemplateVar(value)
        if value == "*":
            return AllTags()
        key, sep, val = value.lower().partition(":")
        if sep and (not key or not val):
            raise self._fail(f"incomplete tag {value!r}", tok.start_pos)
        return TagTerm(key, val, "*" in value) if sep else TagTerm(None, key, "*" in value)

    def in_list(self, key, *rest):
        negated = rest[0].type == "NOT"
        self._check_style(rest[:1])
        terms = tuple(self._in_term(key, v) for v in rest[1 + negated:])
        either = terms[0] if len(terms) == 1 else Or(terms)
        return Not(either) if negated else either

    def _in_term(self, key: Token, value: Token) -> TagTerm:
        if ":" in key or "$" in key or "$" in value:
            raise self._fail(f"IN needs a tag key and plain values, got {str(key)!r}", key.start_pos)
        return TagTerm(str(key).lower(), str(value).lower(), "*" in value)

    def _check_style(self, parts) -> None:
        """`,`/`!` and AND/OR/NOT/IN may not share one filter (Datadog refuses the mix)."""
        for tok in parts:
            if isinstance(tok, Token):
                self._styles.setdefault("symbolic" if tok.type in ("COMMA", "BANG") else "word", tok.start_pos or 0)
        if len(self._styles) == 2:
            raise self._fail("cannot mix symbolic (',' '!') and word (AND OR NOT IN) operators in one tag filter",
                             max(self._styles.values()))

    def scope(self, body):
        self._styles = {}  # the next filter is checked on its own
        return body

    # ----- monitors
    def monitor(self, aggr, window, expression, comparator, threshold):
        if aggr not in MONITOR_TIME_AGGREGATORS:
            raise self._fail(f"unknown monitor time aggregator {str(aggr)!r}; expected one of "
                             f"{', '.join(MONITOR_TIME_AGGREGATORS)}", aggr.start_pos)
        seconds, cumulative, change = window
        if change is not None and aggr not in CHANGE_AGGREGATORS:
            raise self._fail(f"{str(aggr)}(<aggregation>(<window>),<timeshift>) is the change form: its outer "
                             f"aggregator is change or pct_change", aggr.start_pos)
        return MonitorQuery(str(aggr), seconds, expression, str(comparator), threshold, cumulative=cumulative,
                            change=change)

    def window(self, tok):
        text = str(tok)
        try:
            if text.startswith("current_"):
                period = cumulative_period(text)
                return CUMULATIVE_LONGEST[period], period, None
            return window_seconds(text), None, None
        except QueryError as exc:
            raise self._fail(str(exc), tok.start_pos, isinstance(exc, UnsupportedQueryError)) from None

    def change_window(self, inner, window, shift):
        if inner not in CHANGE_TIME_AGGREGATORS:
            raise self._fail(f"unknown time aggregator {str(inner)!r} in the change form; expected one of "
                             f"{', '.join(CHANGE_TIME_AGGREGATORS)}", inner.start_pos)
        if str(window).startswith("current_"):
            raise self._fail(f"a change monitor compares rolling windows, not the cumulative {window}",
                             window.start_pos)
        try:
            seconds, shifted = window_seconds(str(window)), shift_seconds(str(shift))
        except QueryError as exc:
            raise self._fail(str(exc), inner.start_pos) from None
        return seconds, None, ChangeSpec(str(inner), shifted)

    def threshold(self, *toks):
        return -float(toks[-1]) if len(toks) == 2 else float(toks[-1])
