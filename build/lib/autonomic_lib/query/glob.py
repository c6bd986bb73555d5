"""Wildcard patterns (`*` any run, `?` one character) matched in bounded time: never backtracking on user text.

Datadog's log search, tag filters and Late Data settings take such wildcards. A regular expression built by
joining the pieces with `.*` backtracks: `*a*a*a*a*b` over a 200-character log held the sandbox for 23 s. Here a
pattern is cut at its stars into fixed-length segments (literal characters and `?`); each segment is placed once,
left to right, at its earliest place, which is exact for star-separated segments (a later placement never leaves
more room for what follows). A fixed-length regex (no quantifier, no alternation) cannot backtrack, so the bound
is O(len(text) x len(pattern)) character comparisons, done by `re` in C.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable

Chars = Iterable[tuple[str, bool]]  # each character with whether it was escaped (an escaped `*` is literal)


@dataclass(frozen=True)
class Glob:
    """A compiled wildcard pattern.

    Usage::

        Glob.compile("agent-*").fullmatch("agent-07")          # True
        Glob.compile("*timeout*", fold=True).search("Read TIMEOUT")  # True
    """

    segments: tuple[re.Pattern[str], ...]  # the star-separated parts, each of fixed length
    lengths: tuple[int, ...]

    @classmethod
    def compile(cls, pattern: str, *, fold: bool = False, single: bool = True) -> Glob:
        """`*` matches any run; `?` one character when `single`, else itself; every other character itself."""
        return _compile(tuple((c, c == "?" and not single) for c in pattern), fold)

    @classmethod
    def from_chars(cls, chars: Chars, *, fold: bool = False) -> Glob:
        """From characters already unescaped by a parser: only unescaped `*` and `?` are wildcards."""
        return _compile(tuple(chars), fold)

    @property
    def matches_anything(self) -> bool:
        """Whether the pattern is only stars (`*`), which every text matches."""
        return len(self.segments) > 1 and not any(self.lengths)

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of `text` matches."""
        return self._match(text, anchored=True)

    def search(self, text: str) -> bool:
        """Whether some part of `text` matches (as if the pattern began and ended with `*`)."""
        return self._match(text, anchored=False)

    def _match(self, text: str, *, anchored: bool) -> bool:
        segments, lengths = self.segments, self.lengths
        if anchored and len(segments) == 1:
            return len(text) == lengths[0] and segments[0].match(text) is not None
        pos, end = 0, len(text)
        if anchored:
            first, last = segments[0], segments[-1]
            if lengths[0] + lengths[-1] > end or first.match(text) is None \
                    or last.match(text, end - lengths[-1]) is None:
                return False
            pos, end = lengths[0], end - lengths[-1]
            segments = segments[1:-1]
        for segment in segments:
            found = segment.search(text, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True


@functools.lru_cache(maxsize=4096)
def _compile(chars: tuple[tuple[str, bool], ...], fold: bool) -> Glob:
    flags = re.DOTALL | (re.IGNORECASE if fold else 0)
    parts: list[list[str]] = [[]]
    for char, escaped in chars:
        if char == "*" and not escaped:
            parts.append([])
        else:
            parts[-1].append("." if char == "?" and not escaped else re.escape(char))
    return Glob(tuple(re.compile("".join(p), flags) for p in parts), tuple(len(p) for p in parts))
