"""The UDP listener: bounded (datagram size, queue), never crashed by what it reads, stopped cleanly with a last
flush."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.app import Sandbox, SandboxConfig
from autonomic_lib.sandbox.dogstatsd.listener import Listener, socket_drops


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(api_key="a" * 32, app_key="b" * 40, data_dir=None))
    yield box
    box.close()


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sock
    sock.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_received_metrics_are_flushed_on_stop(sandbox: Sandbox, sender: socket.socket) -> None:
    listener = Listener(sandbox.dogstatsd).start()
    assert sandbox.dogstatsd.stats()["port"] == listener.port
    sender.sendto(b"hits:1|c\nhits:2|c", ("127.0.0.1", listener.port))
    wait_until(lambda: sandbox.dogstatsd.counters.metrics == 2)
    listener.stop()
    (series,) = sandbox.metrics.store.series("hits")
    assert series.type == "rate" and series.interval == 10
    assert sandbox.dogstatsd.stats()["listening"] is False
    listener.stop()  # stopping twice is harmless


def test_garbage_never_stops_the_listener(sandbox: Sandbox, sender: socket.socket) -> None:
    listener = Listener(sandbox.dogstatsd).start()
    try:
        for _ in range(50):
            sender.sendto(os.urandom(300), ("127.0.0.1", listener.port))
        sender.sendto(b"", ("127.0.0.1", listener.port))
        sender.sendto(b"alive:1|g", ("127.0.0.1", listener.port))
        wait_until(lambda: sandbox.dogstatsd.counters.received == 52 and sandbox.dogstatsd.aggregator.pending() >= 1)
        assert sandbox.dogstatsd.counters.errors == 0
    finally:
        listener.stop()
    assert sandbox.metrics.store.series("alive")


def test_a_datagram_over_8_kib_is_dropped_whole_and_counted(sandbox: Sandbox, sender: socket.socket) -> None:
    listener = Listener(sandbox.dogstatsd).start()
    try:
        line = b"big:1|c|#" + b"t" * 50 + b"\n"
        sender.sendto(line * (8192 // len(line) + 1), ("127.0.0.1", listener.port))  # just over 8192 bytes
        sender.sendto(line * (8192 // len(line)), ("127.0.0.1", listener.port))  # just under: kept
        wait_until(lambda: sandbox.dogstatsd.counters.received == 2 and sandbox.dogstatsd.counters.metrics > 0)
        assert sandbox.dogstatsd.counters.dropped_too_large == 1
        assert sandbox.dogstatsd.counters.metrics == 8192 // len(line)
    finally:
        listener.stop()


def test_a_full_queue_drops_and_counts_without_blocking_the_reader(sandbox: Sandbox, sender: socket.socket,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real_ingest = sandbox.dogstatsd.ingest

    def slow_ingest(datagram: bytes) -> None:
        release.wait(timeout=30)
        real_ingest(datagram)

    monkeypatch.setattr(sandbox.dogstatsd, "ingest", slow_ingest)
    listener = Listener(sandbox.dogstatsd, queue_datagrams=4).start()
    try:
        for i in range(20):
            sender.sendto(f"q:{i}|c".encode(), ("127.0.0.1", listener.port))
        counters = sandbox.dogstatsd.counters
        wait_until(lambda: counters.received == 20)
        # the worker holds its first batch, the queue four datagrams more: the others are dropped and counted
        assert counters.dropped_queue_full >= 1
        release.set()
        wait_until(lambda: counters.metrics == 20 - counters.dropped_queue_full)
    finally:
        release.set()
        listener.stop()


def test_a_failed_flush_is_counted_and_the_listener_goes_on(sandbox: Sandbox, sender: socket.socket,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_write(batch: object) -> int:
        calls.append(batch)
        raise RuntimeError("disk full")

    monkeypatch.setattr(sandbox.metrics, "write", failing_write)
    listener = Listener(sandbox.dogstatsd, flush_every=0.05).start()
    try:
        sender.sendto(f"x:1|c|T{int(time.time())}".encode(), ("127.0.0.1", listener.port))  # flushed at once
        wait_until(lambda: sandbox.dogstatsd.counters.errors >= 1)
        sender.sendto(b"y:1|g", ("127.0.0.1", listener.port))
        wait_until(lambda: sandbox.dogstatsd.counters.metrics == 2)
    finally:
        listener.stop()
    assert calls


def test_a_port_in_use_is_a_clear_error(sandbox: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError, match=f"cannot listen for DogStatsD on udp 127.0.0.1:{port}"):
            Listener(sandbox.dogstatsd, port=port)


def test_kernel_drops_are_read_from_proc_net_udp(tmp_path: Path) -> None:
    table = tmp_path / "udp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
        "pointer drops\n"
        "  1: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  0  0 1 2 0000000000000000 17\n"
        "  2: 00000000:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  0  0 1 2 0000000000000000 99\n")
    assert socket_drops("127.0.0.1", 8080, table) == 17
    assert socket_drops("127.0.0.1", 8081, table) is None
    assert socket_drops("127.0.0.1", 8080, tmp_path / "missing") is None
