"""The v2 intake's two decoders agree: msgspec's fast path for valid payloads and the general path that words refusals.

Any payload gets the answer the general path gives: the same points, or the same 400 naming the same field.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.metrics.intake import IntakePolicy, _parse_general, parse_series_payload

NOW = 1_800_000_000
POLICY = IntakePolicy(late_data=("late.*",), clock=lambda: NOW)
INT64 = st.integers(-2**63, 2**63 - 1)
ODD = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.floats(allow_nan=False), INT64,
                st.lists(INT64, max_size=2), st.dictionaries(st.text(max_size=3), INT64, max_size=2))
TIMESTAMP = st.one_of(st.integers(NOW - 7200, NOW + 900), st.just(NOW - 100), ODD)
POINT = st.one_of(st.fixed_dictionaries({"timestamp": TIMESTAMP, "value": st.one_of(INT64, st.floats(), ODD)}),
                  st.fixed_dictionaries({"timestamp": TIMESTAMP}), ODD)
SERIES = st.fixed_dictionaries(
    {"metric": st.one_of(st.sampled_from(["kit.metric", "late.metric", "9bad", "sp ace", ""]), ODD),
     "points": st.one_of(st.lists(POINT, max_size=4), ODD)},
    optional={"tags": st.one_of(st.lists(st.sampled_from(["env:Demo", "a b:c", ":", "x:"]), max_size=3), ODD),
              "type": st.one_of(st.integers(0, 4), ODD), "interval": st.one_of(st.integers(-1, 2**31), ODD),
              "unit": ODD, "resources": st.one_of(st.lists(st.fixed_dictionaries(
                  {"name": st.sampled_from(["Host-1", ""]), "type": st.sampled_from(["host", "other"])}), max_size=2),
                  ODD),
              "source_type_name": ODD})
PAYLOAD = st.one_of(st.fixed_dictionaries({"series": st.lists(SERIES, max_size=3)}), ODD)


def outcome(parse: Any, raw: bytes) -> Any:
    """What a decoder answers: each series' fields and points, or the refusal's status and message."""
    try:
        return [(s.metric, s.tags, s.type, s.interval, s.unit, s.timestamps.tolist(), s.values.tolist())
                for s in parse(raw)]
    except IntakeError as exc:
        return (exc.status, str(exc))


@settings(max_examples=400, deadline=None)
@given(PAYLOAD)
def test_the_fast_path_answers_what_the_general_path_answers(payload: Any) -> None:
    raw = orjson.dumps(payload)
    general = outcome(lambda r: _parse_general(r, 2, POLICY), raw)
    assert outcome(lambda r: parse_series_payload(r, version=2, policy=POLICY), raw) == general


def test_a_valid_payload_keeps_every_point_exactly() -> None:
    ts = np.arange(NOW - 3000, NOW, 10)
    values = np.linspace(-1e6, 1e6, len(ts)) / 3
    raw = orjson.dumps({"series": [{"metric": "kit.metric", "type": 3, "tags": ["Env:Demo"], "points": [
        {"timestamp": int(t), "value": float(v)} for t, v in zip(ts, values)]}]})
    [series] = parse_series_payload(raw, version=2, policy=POLICY)
    assert (series.metric, series.tags, series.type) == ("kit.metric", ("env:demo",), "gauge")
    assert series.timestamps.tolist() == ts.tolist() and series.values.tolist() == values.tolist()


@pytest.mark.parametrize(("point", "message"), [
    ({"timestamp": NOW, "value": True}, "series[0].points[1].value must be a number, got True"),
    ({"timestamp": float(NOW), "value": 1}, "series[0].points[1].timestamp must be an integer number of epoch"),
    ({"timestamp": -5, "value": 1}, "series[0].points[1].timestamp must be epoch seconds from 0"),
    ({"value": 1}, "series[0].points[1] is malformed: points must be {timestamp, value} objects"),
])
def test_a_bad_point_among_good_ones_is_named(point: dict[str, Any], message: str) -> None:
    raw = orjson.dumps({"series": [{"metric": "kit.metric", "points": [{"timestamp": NOW, "value": 1}, point]}]})
    with pytest.raises(IntakeError, match="^" + message.replace("[", r"\[").replace("]", r"\]")
                       .replace("{", r"\{").replace("}", r"\}")):
        parse_series_payload(raw, version=2, policy=POLICY)


@pytest.mark.parametrize("point", [b'{"timestamp":1800000000,"value":1000000000000000000000000000000}',
                                   b'{"timestamp":1800000000,"value":-1' + b'0' * 400 + b'}',
                                   b'{"timestamp":100000000000000000000,"value":1}',
                                   b'{"timestamp":1800000000,"value":1e400}'])
def test_numbers_past_64_bits_get_the_same_answer_on_both_paths(point: bytes) -> None:
    """orjson cannot write these, so they are spelt out: a huge value is a float (or not finite), a huge timestamp
    out of range."""
    raw = b'{"series":[{"metric":"kit.metric","points":[' + point + b"]}]}"
    general = outcome(lambda r: _parse_general(r, 2, POLICY), raw)
    assert outcome(lambda r: parse_series_payload(r, version=2, policy=POLICY), raw) == general
    assert general == [("kit.metric", (), "unspecified", None, None, [NOW], [1e30])] or general[0] == 400
