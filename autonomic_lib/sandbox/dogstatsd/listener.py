"""The DogStatsD UDP socket on 127.0.0.1: a receiver thread, a bounded queue, a worker thread.

Why threads rather than a DatagramProtocol on the HTTP server's event loop: parsing and aggregating cost CPU,
and on the loop every datagram would delay the API's answers. The receiver only reads datagrams and queues them
(dropping and counting when the queue is full, never blocking); the worker parses, aggregates and flushes every
second. Both stop within a fraction of a second when the server stops (also on SIGTERM: the CLI's server returns
from serving and its cleanup stops the listener), and the worker then flushes every bucket, the open one too (as
the Agent's `forceFlushAll` on stop, pkg/aggregator/time_sampler.go).

Bounds, as the Agent's (pkg/config/setup/config.go): a datagram of at most `dogstatsd_buffer_size` = 8192 bytes
(a longer one is refused whole and counted; the Agent's 8 KiB read buffer would silently cut it, its last message
stored cut too); the Agent queues `dogstatsd_queue_size` = 1024 batches of up to 32 datagrams, the sandbox a
bounded queue of single datagrams.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.dogstatsd.backend import DogStatsD, log

HOST = "127.0.0.1"
MAX_DATAGRAM = 8192  # bytes: dogstatsd_buffer_size
QUEUE_DATAGRAMS = 4096  # datagrams waiting for the worker: at most 32 MiB
RECEIVE_BUFFER = 8 * 1024 * 1024  # SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max, doubled)
FLUSH_EVERY = 1.0  # seconds between flushes: a closed 10 s bucket is queryable within a second
_POLL = 0.2  # seconds a blocked read waits before checking whether to stop
_STOP = b""  # the worker's last item (a datagram is never empty once queued: see _receive)


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
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=queue_datagrams)
        self._stopping = threading.Event()
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
        receiver, worker = self._threads or (None, None)
        if receiver is not None and worker is not None:
            receiver.join(timeout=_POLL * 5)
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                log.error("the DogStatsD worker did not take its stop signal within %.0f s", timeout)
            worker.join(timeout=timeout)
        self._sock.close()
        self.backend.listening = None

    # ------------------------------------------------------------------------------------------------ threads
    def _receive(self) -> None:
        sock, counters, limit = self._sock, self.backend.counters, self.max_datagram
        while not self._stopping.is_set():
            try:
                data = sock.recv(limit + 1)  # one byte more than allowed tells an oversized datagram apart
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    break
                counters.errors += 1
                self.backend.throttled.warning("DogStatsD socket read failed: %s", exc)
                time.sleep(_POLL)
                continue
            counters.received += 1
            counters.received_bytes += len(data)
            if len(data) > limit:
                counters.dropped_too_large += 1
                self.backend.throttled.warning("DogStatsD datagram of more than %d bytes dropped (the Agent's "
                                               "dogstatsd_buffer_size); send smaller packets", limit)
            elif data:
                try:
                    self._queue.put_nowait(data)
                except queue.Full:
                    counters.dropped_queue_full += 1
                    self.backend.throttled.warning("DogStatsD queue full (%d datagrams): datagram dropped",
                                                   self._queue.maxsize)

    def _work(self) -> None:
        backend = self.backend
        next_flush = time.monotonic() + self.flush_every
        while True:
            try:
                data = self._queue.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                data = None
            if data == _STOP:
                break
            if data is not None:
                self._safely(backend.ingest, data)
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
    sock.settimeout(_POLL)
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
