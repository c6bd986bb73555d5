"""Datadog's documented limits on what one query returns, shared by the sandbox and the client side.

DATADOG.md 2.5: at most 1500 points per series; a finer requested rollup is widened (its method kept), so a caller
that needs a fixed step reads longer spans in chunks of at most MAX_POINTS buckets.
"""

from __future__ import annotations

MAX_POINTS = 1500  # points per series
