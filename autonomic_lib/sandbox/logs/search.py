"""Datadog log search for the sandbox: the query subset, date math, status names, and matching a stored log.

The subset follows https://docs.datadoghq.com/logs/explorer/search_syntax/: free text searches the
message word by word (case-insensitive), `"a sequence"` of words, `key:value` on tags and the reserved
`service`/`host`/`source`/`status`, `@attr.path:value` on attributes (case-sensitive), `tags:<tag>`,
`*`/`?` wildcards, `AND`/`OR`/`NOT`/`-`, parentheses, `key:(a OR b)`, numeric `@a:>5` and `@a:[1 TO 5]`.
Anything else (full-text `*:term`, `CIDR()`, `#calculated` fields, unescaped Lucene leftovers) raises
UnsupportedQueryError, which the API answers with a 400 naming it: a refusal, never a quietly wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterator

from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError
from autonomic_lib.query.glob import Glob
from autonomic_lib.query.language import MAX_QUERY_DEPTH
from autonomic_lib.sandbox.http.params import MAX_EPOCH_MS, parse_int

__all__ = ["LogQuery", "LogView", "parse_query", "parse_time", "normalize_status", "iso_ms"]

_TOKEN = re.compile(r"\w+")
_SPECIAL = set("{}[]^~=!<>&|+")  # Datadog wants these escaped; unescaped, they are syntax the sandbox lacks
_STOP = set(' \t\r\n()"')
_SYSLOG = ("emerg", "alert", "critical", "error", "warn", "notice", "info", "debug")
_DATE_STEP = re.compile(r"\s*([+-])\s*([0-9]{1,9})\s*([smhdw])")  # ASCII digits: \d takes '٣' too
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def normalize_status(value: Any) -> str:
    """Datadog's status remapper: syslog 0-7 and name prefixes, to emerg, alert, ..., warn, info, debug or ok."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _SYSLOG[value] if 0 <= value <= 7 else "info"
    s = str(value).strip().lower()
    if s.startswith(("emerg", "f")):
        return "emerg"
    for prefix, name in (("a", "alert"), ("c", "critical"), ("err", "error"), ("w", "warn"), ("n", "notice"),
                         ("i", "info"), ("d", "debug"), ("t", "debug"), ("v", "debug"), ("o", "ok"), ("s", "ok")):
        if s.startswith(prefix):
            return name
    return "info"


def iso_ms(ms: int) -> str:
    """Epoch ms as Datadog writes log timestamps: `2026-01-01T00:00:00.000Z`."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(text: str, now_ms: int, where: str) -> int:
    """`now`, `now-15m` (s m h d w), ISO-8601 or epoch milliseconds, as epoch ms in the years 1970 to 9999;
    IntakeError(400) otherwise (a time past those years is past what the storage and datetime can hold)."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return parse_int(t, where, high=MAX_EPOCH_MS, what="epoch milliseconds")
    if t.startswith("now"):
        ms, rest = now_ms, t[3:]
        while rest:
            m = _DATE_STEP.match(rest)
            if not m:
                raise IntakeError(400, f"{where} {text[:60]!r}: unsupported date math {rest.strip()[:40]!r}; the "
                                       "sandbox takes now, now-<n><s|m|h|d|w>, ISO-8601 or epoch milliseconds")
            step = int(m.group(2)) * _UNIT_MS[m.group(3)]
            ms += step if m.group(1) == "+" else -step
            rest = rest[m.end():]
    else:
        try:
            moment = datetime.fromisoformat(t)
        except ValueError:
            raise IntakeError(400, f"{where} {text[:60]!r} is not a time: use now-15m, ISO-8601 or epoch "
                                   "milliseconds") from None
        ms = int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000)
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise IntakeError(400, f"{where} {text[:60]!r} is outside the years 1970 to 9999")
    return ms


class LogView:
    """A stored log as the matcher sees it, with its message words and tags prepared once."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc

    @cached_property
    def words(self) -> list[str]:
        return _TOKEN.findall(str(self.doc.get("message", "")).lower())

    @cached_property
    def message(self) -> str:
        return str(self.doc.get("message", "")).lower()

    @cached_property
    def tags(self) -> list[str]:
        return list(self.doc.get("tags", ()))


@dataclass(frozen=True)
class Pattern:
    """A value to match: the unescaped text, and its characters when it has unescaped `*`/`?` wildcards.

    Wildcards match through `Glob` (query/glob.py): bounded time whatever the pattern and the log.
    """

    text: str
    chars: tuple[tuple[str, bool], ...] | None = None  # (character, escaped), set only for wildcards

    @property
    def wild(self) -> bool:
        return self.chars is not None

    def glob(self, *, fold: bool) -> Glob:
        assert self.chars is not None
        return Glob.from_chars(self.chars, fold=fold)

    def fullmatch(self, value: str, *, fold: bool) -> bool:
        if self.chars is None:
            return value.lower() == self.text.lower() if fold else value == self.text
        return self.glob(fold=fold).fullmatch(value)


class LogQuery:
    """A parsed query; `matches(view)` says whether a stored log satisfies it."""

    def matches(self, view: LogView) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _All(LogQuery):
    def matches(self, view: LogView) -> bool:
        return True


@dataclass(frozen=True)
class _Bool(LogQuery):
    op: str  # "and" | "or"
    parts: tuple[LogQuery, ...]

    def matches(self, view: LogView) -> bool:
        test = all if self.op == "and" else any
        return test(p.matches(view) for p in self.parts)


@dataclass(frozen=True)
class _Not(LogQuery):
    part: LogQuery

    def matches(self, view: LogView) -> bool:
        return not self.part.matches(view)


@dataclass(frozen=True)
class _Free(LogQuery):
    """Free text: the message's words in sequence (case-insensitive), or a wildcard over one word."""

    pattern: Pattern
    phrase: bool

    def matches(self, view: LogView) -> bool:
        p = self.pattern
        if not p.wild or self.phrase:
            wanted = _TOKEN.findall(p.text.lower())
            words, n = view.words, len(wanted)
            return any(words[i:i + n] == wanted for i in range(len(words) - n + 1))
        if re.fullmatch(r"[\w*?]+", p.text):
            return any(p.fullmatch(w, fold=True) for w in view.words)
        return p.glob(fold=True).search(view.message)


@dataclass(frozen=True)
class _Tag(LogQuery):
    """`key:value` on tags (and `status`); tags are lower-cased at intake, so the match folds case."""

    key: str
    pattern: Pattern

    def matches(self, view: LogView) -> bool:
        if self.key == "status":
            return self.pattern.fullmatch(str(view.doc.get("status", "")), fold=True)
        if self.key == "tags":
            return any(self.pattern.fullmatch(t, fold=True) for t in view.tags)
        prefix = self.key + ":"
        return any(t.startswith(prefix) and self.pattern.fullmatch(t[len(prefix):], fold=True) for t in view.tags)


@dataclass(frozen=True)
class _Attr(LogQuery):
    """`@path:value`, case-sensitive; numbers compare as numbers; arrays match when any element does."""

    path: str
    pattern: Pattern | None = None
    low: float | None = None  # numeric bounds (inclusive unless strict)
    high: float | None = None
    strict: tuple[bool, bool] = (False, False)

    def matches(self, view: LogView) -> bool:
        for value in _values(view.doc.get("attributes", {}), self.path.split(".")):
            if self.pattern is not None and self.pattern.wild and self.pattern.glob(fold=False).matches_anything:
                return True  # @attr:* is an existence test
            if self.pattern is None:
                num = _number(value)
                if num is not None and _within(num, self.low, self.high, self.strict):
                    return True
            elif _scalar_matches(self.pattern, value):
                return True
        return False


def _values(node: Any, parts: list[str]) -> Iterator[Any]:
    """Values at a dotted path, whether nested or stored under a literal dotted key; arrays fan out."""
    if isinstance(node, list):
        for item in node:
            yield from _values(item, parts)
    elif not parts:
        yield node
    elif isinstance(node, dict):
        for k in range(len(parts), 0, -1):
            key = ".".join(parts[:k])
            if key in node:
                yield from _values(node[key], parts[k:])


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _within(num: float, low: float | None, high: float | None, strict: tuple[bool, bool]) -> bool:
    if low is not None and (num <= low if strict[0] else num < low):
        return False
    return high is None or (num < high if strict[1] else num <= high)


def _scalar_matches(pattern: Pattern, value: Any) -> bool:
    if value is None or isinstance(value, dict):
        return False
    if isinstance(value, bool):
        return pattern.fullmatch("true" if value else "false", fold=False)
    if isinstance(value, (int, float)) and not pattern.wild:
        wanted = _number(pattern.text)
        return wanted is not None and float(value) == wanted
    return pattern.fullmatch(str(value), fold=False)


def parse_query(text: str | None) -> LogQuery:
    """Parse a log search query; QueryError on bad syntax, UnsupportedQueryError on syntax the sandbox lacks."""
    if text is None or not text.strip() or text.strip() == "*":
        return _All()
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the query text (a scanner and parser in one: values need their own lexing)."""

    def __init__(self, text: str):
        self.s, self.i, self.depth = text, 0, 0

    def nested(self, parse: Callable[[str | None], LogQuery], field: str | None) -> LogQuery:
        """Parse one more level of NOT, `-` or parentheses: at most MAX_QUERY_DEPTH, as parsing (and matching)
        recurse once per level, and 3000 nested `(` once ended in a RecursionError (a 500)."""
        if self.depth >= MAX_QUERY_DEPTH:
            raise self.fail(f"the query is nested more than {MAX_QUERY_DEPTH} levels deep (NOT, - and parentheses)")
        self.depth += 1
        try:
            return parse(field)
        finally:
            self.depth -= 1

    def fail(self, message: str, unsupported: bool = False) -> QueryError:
        cls = UnsupportedQueryError if unsupported else QueryError
        return cls(f"{message} (at position {self.i} of {self.s!r})", query=self.s, position=self.i)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_ws(self) -> None:
        while self.peek().isspace():
            self.i += 1

    def keyword(self, word: str) -> bool:
        self.skip_ws()
        end = self.i + len(word)
        if self.s.startswith(word, self.i) and (end == len(self.s) or self.s[end].isspace() or self.s[end] == "("):
            self.i = end
            return True
        return False

    def parse(self) -> LogQuery:
        node = self.or_expr(None)
        self.skip_ws()
        if self.i < len(self.s):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def or_expr(self, field: str | None) -> LogQuery:
        parts = [self.and_expr(field)]
        while self.keyword("OR"):
            parts.append(self.and_expr(field))
        return parts[0] if len(parts) == 1 else _Bool("or", tuple(parts))

    def and_expr(self, field: str | None) -> LogQuery:
        parts = [self.unary(field)]
        while True:
            self.skip_ws()
            save = self.i
            if self.peek() in ("", ")") or self.keyword("OR"):
                self.i = save
                break
            self.keyword("AND")
            parts.append(self.unary(field))
        return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))

    def unary(self, field: str | None) -> LogQuery:
        if self.keyword("NOT"):
            return _Not(self.nested(self.unary, field))
        self.skip_ws()
        if self.peek() == "-" and self.i + 1 < len(self.s) and not self.s[self.i + 1].isspace():
            self.i += 1
            return _Not(self.nested(self.unary, field))
        if self.keyword("AND") or self.keyword("OR"):
            raise self.fail("an operator needs a term on each side")
        return self.primary(field)

    def group(self, field: str | None) -> LogQuery:
        """A parenthesised sub-query (the cursor is on its '('), applied to `field` when one is given."""
        self.i += 1
        node = self.nested(self.or_expr, field)
        self.skip_ws()
        if self.peek() != ")":
            raise self.fail("missing ')'")
        self.i += 1
        return node

    def primary(self, field: str | None) -> LogQuery:
        self.skip_ws()
        c = self.peek()
        if not c:
            raise self.fail("the query ends where a term was expected")
        if c == "(":
            return self.group(field)
        if c == ")":
            raise self.fail("unexpected ')'")
        if c == '"':
            return self.leaf(field, Pattern(self.phrase()), phrase=True)
        if c == "#":
            raise self.fail("calculated fields (#name) are not supported by the sandbox", unsupported=True)
        start = self.i
        chars = self.word(stop_colon=True)
        if self.peek() == ":" and field is None:
            self.i += 1
            return self.field(self.s[start:self.i - 1])
        if self.peek() == "(":
            raise self.fail(f"search functions such as {self.s[start:self.i]}() are not supported by the sandbox",
                            unsupported=True)
        if chars and chars[0] == ("@", False):
            raise self.fail("attribute search needs @name:value")
        return self.leaf(field, self.pattern(chars), phrase=False)

    def leaf(self, field: str | None, pattern: Pattern, phrase: bool) -> LogQuery:
        if field is None:
            if not _TOKEN.search(pattern.text) and not pattern.wild:
                raise self.fail(f"free text {pattern.text!r} has no word to search for")
            return _Free(pattern, phrase)
        return _Attr(field[1:], pattern) if field.startswith("@") else _Tag(field, pattern)

    def field(self, key: str) -> LogQuery:
        if key.startswith("*"):
            raise self.fail("full-text search (*:term) is not supported by the sandbox", unsupported=True)
        if key in ("@", "") or "*" in key or "?" in key or "\\" in key:
            raise self.fail(f"invalid attribute or tag name {key!r}")
        field = key if key.startswith("@") else key.lower()
        c = self.peek()
        if c == "" or c.isspace() or c == ")":
            raise self.fail(f"missing value after {key}:")
        if c == "(":
            return self.group(field)
        if c == '"':
            return self.leaf(field, Pattern(self.phrase()), phrase=True)
        if c in "<>[{":
            return self.numeric(field)
        return self.leaf(field, self.pattern(self.word(stop_colon=False)), phrase=False)

    def numeric(self, field: str) -> LogQuery:
        if not field.startswith("@"):
            raise self.fail(f"numeric search on the tag {field!r} is not supported by the sandbox", unsupported=True)
        if self.peek() == "{":
            raise self.fail("exclusive ranges {a TO b} are not supported by the sandbox", unsupported=True)
        if self.peek() == "[":
            end = self.s.find("]", self.i)
            m = re.fullmatch(r"\[\s*(\S+)\s+TO\s+(\S+)\s*\]", self.s[self.i:end + 1]) if end > 0 else None
            if not m:
                raise self.fail("a range is written [low TO high]")
            self.i = end + 1
            low, high = (None if b == "*" else self.number(b) for b in m.groups())
            return _Attr(field[1:], low=low, high=high)
        m = re.match(r"(>=|<=|>|<)\s*([^\s()]+)", self.s[self.i:])
        if not m:
            raise self.fail("a comparison is written @name:>number")
        self.i += m.end()
        op, num = m.group(1), self.number(m.group(2))
        if op.startswith(">"):
            return _Attr(field[1:], low=num, strict=(op == ">", False))
        return _Attr(field[1:], high=num, strict=(False, op == "<"))

    def number(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise self.fail(f"{text!r} is not a number") from None

    def phrase(self) -> str:
        text, end = read_quoted(self.s, self.i)
        if end is None:
            raise self.fail("unterminated quoted sequence")
        self.i = end
        return text

    def word(self, *, stop_colon: bool) -> list[tuple[str, bool]]:
        """Characters up to whitespace, a parenthesis or a quote, each with whether it was escaped."""
        chars: list[tuple[str, bool]] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                if self.i + 1 >= len(self.s):
                    raise self.fail("the query ends with a lone backslash")
                chars.append((self.s[self.i + 1], True))
                self.i += 2
                continue
            if c in _STOP or (stop_colon and c == ":"):
                break
            if c in _SPECIAL:
                raise self.fail(f"the special character {c!r} must be escaped with a backslash (unescaped, it is "
                                "syntax the sandbox does not support)", unsupported=True)
            chars.append((c, False))
            self.i += 1
        if not chars:
            raise self.fail("a term was expected")
        return chars

    @staticmethod
    def pattern(chars: list[tuple[str, bool]]) -> Pattern:
        text = "".join(c for c, _ in chars)
        if not any(c in "*?" and not escaped for c, escaped in chars):
            return Pattern(text)
        return Pattern(text, tuple(chars))


def read_quoted(s: str, i: int) -> tuple[str, int | None]:
    """The double-quoted text opening at `s[i]` (a backslash escapes the next character) and the index after its
    closing quote; None for the index when the quote is never closed. One pass, no regex."""
    i += 1
    out = []
    while i < len(s) and s[i] != '"':
        if s[i] == "\\" and i + 1 < len(s):
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out), (i + 1 if i < len(s) else None)
