"""Formula-and-functions monitors: the query (`formula("query1 / query2").last("15m") >= 0.8`) checked against
its `options.variables` (the client's `MonitorFormulaAndFunctionQueryDefinition` list: each a named query with a
`data_source`).

Datadog documents these for event and cost monitors (rum alert, ci-*, audit, cost alert, ...; the client's
examples) and for metric monitors (dynamic thresholds, aggregate-filtered/augmented variables; Datadog's recorded
answer to CreateMonitor_2082938111 stores one as given). The sandbox evaluates none of them: it stores them marked
not evaluated (unevaluated.py), and the checker here keeps a malformed one a 400 naming the problem.
"""

from __future__ import annotations

from typing import Any

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.query.formula_monitor import FormulaMonitorQuery, parse_formula_monitor
from autonomic_lib.sandbox.http.params import shorten

MAX_VARIABLES = 100  # a sandbox bound


def check_formula_monitor(query: str, options: dict[str, Any]) -> FormulaMonitorQuery:
    """Parse the query over the names of `options.variables`; a 400 naming the field otherwise."""
    variables = options.get("variables")
    if not isinstance(variables, list) or not 1 <= len(variables) <= MAX_VARIABLES:
        raise IntakeError(400, f"The value provided for parameter 'options.variables' is invalid: a formula monitor "
                               f"needs 1 to {MAX_VARIABLES} query definitions, got {shorten(variables)}")
    names: list[str] = []
    for i, variable in enumerate(variables):
        name = variable.get("name") if isinstance(variable, dict) else None
        if not isinstance(name, str) or not name or not isinstance(variable.get("data_source"), str):
            raise IntakeError(400, f"The value provided for parameter 'options.variables[{i}]' is invalid: each "
                                   "query definition needs a 'name' and a 'data_source'")
        if name in names:
            raise IntakeError(400, f"The value provided for parameter 'options.variables[{i}].name' is invalid: "
                                   f"{shorten(name)} names two queries")
        names.append(name)
    try:
        return parse_formula_monitor(query, names)
    except QueryError as exc:
        raise IntakeError(400, f"The value provided for parameter 'query' is invalid: {exc}") from None
