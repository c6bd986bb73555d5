"""Wildcard matching in bounded time: the same answers as fnmatch, without its backtracking."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomic_lib.query.glob import Glob

ALPHABET = "ab*?"


@settings(max_examples=400, deadline=None)
@given(pattern=st.text(alphabet=ALPHABET, max_size=8), text=st.text(alphabet="abc", max_size=10))
def test_fullmatch_agrees_with_fnmatch(pattern: str, text: str) -> None:
    assert Glob.compile(pattern).fullmatch(text) == fnmatch.fnmatchcase(text, pattern)


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(alphabet=ALPHABET, max_size=8), text=st.text(alphabet="abc", max_size=10))
def test_search_is_a_fullmatch_between_stars(pattern: str, text: str) -> None:
    assert Glob.compile(pattern).search(text) == fnmatch.fnmatchcase(text, f"*{pattern}*")


@pytest.mark.parametrize("pattern, text, fold, single, expected", [
    ("agent-*", "agent-07", False, True, True),
    ("AGENT-*", "agent-07", True, True, True),
    ("AGENT-*", "agent-07", False, True, False),
    ("a?c", "abc", False, True, True),
    ("a?c", "abc", False, False, False),  # tag filters: `?` is itself
    ("a?c", "a?c", False, False, True),
    ("*", "", False, True, True),
    ("", "", False, True, True),
    ("a*b*c", "a\nb\nc", False, True, True),  # any character, newlines included
])
def test_examples(pattern: str, text: str, fold: bool, single: bool, expected: bool) -> None:
    assert Glob.compile(pattern, fold=fold, single=single).fullmatch(text) is expected


def test_escaped_stars_from_a_parser_are_literal() -> None:
    glob = Glob.from_chars([("a", False), ("*", True), ("*", False)])
    assert glob.fullmatch("a*xyz") and not glob.fullmatch("abc")


def test_only_stars_match_anything() -> None:
    assert Glob.compile("**").matches_anything and not Glob.compile("*a").matches_anything


@pytest.mark.timeout(5)
def test_a_pattern_that_backtracks_exponentially_as_a_regex_answers_at_once() -> None:
    """`*a*a*a*a*b` over 200 'a's took 23 s as a `.*` regex; here it is a few segment searches."""
    text = "a" * 100_000
    for stars in range(4, 40, 5):
        assert not Glob.compile("*a" * stars + "*b").fullmatch(text)
        assert not Glob.compile("a" * stars + "?b", fold=True).search(text)
