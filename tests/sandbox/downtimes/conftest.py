"""The monitors product's backend fixtures (fake clock, logs, monitors), shared with the downtimes it silences."""

from tests.sandbox.monitors.conftest import clock, logs, monitors

__all__ = ["clock", "logs", "monitors"]
