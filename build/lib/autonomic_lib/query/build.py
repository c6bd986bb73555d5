"""Metric query text built from the query model, so callers never write Datadog's braces by hand."""

from __future__ import annotations

from typing import Sequence

from autonomic_lib.query.language import AllTags, And, MetricQuery, Scope, TagTerm


def metric_query(aggr: str, metric: str, tags: Sequence[str] = (), *, by: Sequence[str] = (),
                 as_count: bool = False, rollup: tuple[str, int] | None = None) -> str:
    """`aggr:metric{tags} by {by}[.as_count()][.rollup(method, seconds)]` in canonical form.

    Args:
        tags: `key:value` (or bare) tags the series must all carry; none means every series (`*`).
        by: tag keys to group by.
        rollup: the time aggregation (method, seconds), e.g. ("sum", 60).

    Example: `metric_query("sum", "autonomic.audit.verdict", ["env:demo"], by=["verdict"], as_count=True,
    rollup=("sum", 300))` is `sum:autonomic.audit.verdict{env:demo} by {verdict}.as_count().rollup(sum, 300)`.
    """
    method, seconds = rollup if rollup is not None else (None, None)
    return MetricQuery(aggr, metric, _scope(tags), group_by=tuple(by), modifier="as_count" if as_count else None,
                       rollup_method=method, rollup_seconds=seconds).render()


def _scope(tags: Sequence[str]) -> Scope:
    terms: list[Scope] = []
    for tag in tags:
        key, sep, value = tag.partition(":")
        terms.append(TagTerm(key, value, "*" in value) if sep else TagTerm(None, tag, "*" in tag))
    if not terms:
        return AllTags()
    return terms[0] if len(terms) == 1 else And(tuple(terms))
