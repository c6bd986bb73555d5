"""The DogStatsD UDP socket on 127.0.0.1: a receiver thread, a bounded queue, a worker thread.

Why threads rather than a DatagramProtocol on the HTTP server's event loop: parsing and aggregating cost CPU,
and on the loop every datagram would delay the API's answers. The receiver only reads datagrams and queues them
(dropping and counting when the queue is full, never blocking); the worker parses, aggregates and flushes every
second. Both stop within a fraction of a second when the server stops (also on SIGTERM: the CLI's server returns
from serving and its cleanup stops the listener), and the worker then flushes every bucket, the open one too (as
the Agent's `forceFlushAll` on stop, pkg/aggregator/time_sampler.go).

Why batches: the two threads share the GIL, and a thread woken by the kernel waits up to the 5 ms switch interval
for it while the other computes. Read one datagram per wake-up and a client sending one datagram per metric (the
`datadog` client's default) overflows the socket at a few thousand metrics/s. So the receiver, once woken, drains
what the socket holds without blocking (up to `BATCH` datagrams), and queues the batch in one step; the worker
parses a batch as one text (datagrams end between messages, so joining them with newlines changes nothing).

Bounds, as the Agent's (pkg/config/setup/config.go): a datagram of at most `dogstatsd_buffer_size` = 8192 bytes
(a longer one is refused whole and counted; the Agent's 8 KiB read buffer would silently cut it, its last message
stored cut too); the Agent queues `dogstatsd_queue_size` = 1024 batches of up to `dogstatsd_packet_buffer_size` =
32 datagrams, the sandbox at most `QUEUE_DATAGRAMS` datagrams in batches of up to `BATCH`.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.dogstatsd.backend import DogStatsD, log

HOST = "127.0.0.1"
MAX_DATAGRAM = 8192  # bytes: dogstatsd_buffer_size
QUEUE_DATAGRAMS = 8192  # datagrams waiting for the worker: at most 64 MiB, ~1 MiB at the client's 1432-byte packets
BATCH = 256  # datagrams read per wake-up of the receiver, at most
RECEIVE_BUFFER = 8 * 1024 * 1024  # SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max)
FLUSH_EVERY = 1.0  # seconds between flushes: a closed 10 s bucket is queryable within a second
_POLL = 0.2  # seconds a blocked read waits before checking whether to stop


class _BoundedBatches:
    """Batches of datagrams, at most `limit` datagrams in all: `offer` never blocks, it drops what has no room."""

    def __init__(self, limit: int):
        self.limit = limit
        self._batches: deque[list[bytes]] = deque()
        self._count = 0
        self._ready = threading.Condition()

    def offer(self, batch: list[bytes]) -> int:
        """Queue what fits of `batch`; returns how many datagrams were dropped."""
        with self._ready:
            room = self.limit - self._count
            kept = batch if len(batch) <= room else batch[:max(room, 0)]
            if kept:
                self._batches.append(kept)
                self._count += len(kept)
                self._ready.notify()
            return len(batch) - len(kept)

    def take(self, timeout: float) -> list[bytes] | None:
        """The oldest batch, waiting at most `timeout` seconds for one; None when there was none."""
        with self._ready:
            if not self._batches:
                self._ready.wait(timeout)
                if not self._batches:
                    return None
            batch = self._batches.popleft()
            self._count -= len(batch)
            return batch


class Listener:
    """DogStatsD on UDP `host:port` (0: a free port) feeding `backend`.

    Usage::

        listener = Listener(sandbox.dogstatsd, port=0).start()
        DogStatsd(host="127.0.0.1", port=listener.port).increment("page.views")
        listener.stop()         # flushes everything received, the open bucket too

    Raises:
        SandboxError: the port cannot be bound (in use, not permitted); the message names it.
    """

    def __init__(self, backend: DogStatsD, *, host: str = HOST, port: int = 0, max_datagram: int = MAX_DATAGRAM,
                 queue_datagrams: int = QUEUE_DATAGRAMS, flush_every: float = FLUSH_EVERY):
        self.backend, self.host, self.max_datagram, self.flush_every = backend, host, max_datagram, flush_every
        self._sock = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._queue = _BoundedBatches(queue_datagrams)
        self._stopping = threading.Event()
        self._received_all = threading.Event()
        self._threads: list[threading.Thread] = []
        backend.listening = {"host": host, "port": self.port, "max_datagram_bytes": max_datagram,
                             "queue_datagrams": queue_datagrams, "receive_buffer_bytes":
                                 self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}

    def start(self) -> "Listener":
        if not self._threads:
            self._threads = [threading.Thread(target=self._receive, name=f"dogstatsd-recv-{self.port}", daemon=True),
                             threading.Thread(target=self._work, name=f"dogstatsd-work-{self.port}", daemon=True)]
            for thread in self._threads:
                thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, let the worker finish what is queued and flush every bucket, then close the socket."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for thread in self._threads:  # the receiver first: the worker ends once it has emptied the queue
            thread.join(timeout=timeout)
            if thread.is_alive():
                log.error("the DogStatsD thread %s did not stop within %.0f s", thread.name, timeout)
        self._sock.close()
        self.backend.listening = None

    # ------------------------------------------------------------------------------------------------ threads
    def _receive(self) -> None:
        sock, counters, limit, backend = self._sock, self.backend.counters, self.max_datagram, self.backend
        size = limit + 1  # one byte more than allowed tells an oversized datagram apart
        readable = select.poll()
        readable.register(sock, select.POLLIN)
        try:
            while not self._stopping.is_set():
                if not readable.poll(_POLL * 1000):
                    continue
                batch: list[bytes] = []
                try:
                    while len(batch) < BATCH:
                        batch.append(sock.recv(size))  # the socket does not block: this drains what it holds
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if self._stopping.is_set():
                        break
                    counters.errors += 1
                    backend.throttled.warning("DogStatsD socket read failed: %s", exc)
                    time.sleep(_POLL)
                if batch:
                    self._enqueue(batch)
        finally:
            self._received_all.set()

    def _enqueue(self, batch: list[bytes]) -> None:
        counters, limit = self.backend.counters, self.max_datagram
        counters.received += len(batch)
        counters.received_bytes += sum(map(len, batch))
        if any(len(d) > limit for d in batch):
            kept = [d for d in batch if len(d) <= limit]
            counters.dropped_too_large += len(batch) - len(kept)
            self.backend.throttled.warning("DogStatsD datagram of more than %d bytes dropped (the Agent's "
                                           "dogstatsd_buffer_size); send smaller packets", limit)
            batch = kept
        dropped = self._queue.offer(batch)
        if dropped:
            counters.dropped_queue_full += dropped
            self.backend.throttled.warning("DogStatsD queue full (%d datagrams): %d datagrams dropped",
                                           self._queue.limit, dropped)

    def _work(self) -> None:
        backend = self.backend
        next_flush = time.monotonic() + self.flush_every
        while True:
            batch = self._queue.take(timeout=max(0.0, min(_POLL, next_flush - time.monotonic())))
            if batch:
                self._safely(backend.ingest, b"\n".join(batch))
            elif self._received_all.is_set():
                break  # the receiver has stopped and the queue is empty
            if time.monotonic() >= next_flush:
                self._safely(backend.flush)
                drops = socket_drops(self.host, self.port)
                if drops is not None:
                    backend.counters.socket_drops = drops
                next_flush = time.monotonic() + self.flush_every
        self._safely(lambda: backend.flush(force=True))

    def _safely(self, step: Callable[..., object], *args: object) -> None:
        """Run one step of the worker; a failure is counted and logged, and the worker goes on."""
        try:
            step(*args)
        except Exception:  # noqa: BLE001 - the listener must outlive any one bad datagram or failed write
            self.backend.counters.errors += 1
            self.backend.throttled.warning("DogStatsD %s failed", getattr(step, "__name__", "step"), exc_info=True)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SandboxError(f"cannot listen for DogStatsD on udp {host}:{port}: {exc.strerror}; choose another "
                           "--dogstatsd-port or 0 for a free one") from None
    sock.setblocking(False)  # the receiver waits with poll(), then drains without blocking
    return sock


def socket_drops(host: str, port: int, table: Path = Path("/proc/net/udp")) -> int | None:
    """Datagrams the kernel dropped on the socket bound to host:port because its receive buffer was full (the
    last column of Linux's /proc/net/udp), or None where there is no such table."""
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}:{port:04X}"
    for line in lines:
        fields = line.split()
        if len(fields) >= 13 and fields[1] == wanted:
            return int(fields[-1]) if fields[-1].isdigit() else None
    return None
