"""What a sandbox instance is given: its keys, where it keeps data, and the knobs of intake and evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SandboxConfig:
    """Configuration of one sandbox; the server and the container (app.py) read it, products get plain values.

    Attributes:
        evaluation_quiet_seconds: the background evaluator waits until ingest has been quiet this long, so
            minutes whose data is still arriving are not judged (tests set 0 rather than wait on the clock).
        dogstatsd_port: UDP port on 127.0.0.1 for DogStatsD datagrams (0: a free one); None: no DogStatsD.
        dogstatsd_interval: seconds per DogStatsD aggregation bucket; the Agent's is 10 (tests shorten it rather
            than wait for a bucket to close).
    """

    api_key: str
    app_key: str
    data_dir: Path | None = None  # None keeps everything in memory (tests)
    late_data: tuple[str, ...] = ()
    catalog_dir: Path | None = None
    memory_limit: str = "256MB"
    evaluation_quiet_seconds: float = 2.0
    dogstatsd_port: int | None = None
    dogstatsd_interval: int = 10
