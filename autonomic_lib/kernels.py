"""Kernels started ahead of their notebooks: the demo's way to keep one kernel per notebook without waiting for each.

papermill starts a notebook's kernel when it runs it: a Python process that boots ipykernel, then the notebook's
first cell imports pandas, matplotlib and the kit (1-2 s each time, every notebook). The demo starts the next
notebook's kernel while the current notebook runs instead, and the kernel imports the modules that notebook imports
as it boots (IPython's `exec_lines`, in a namespace of their own: the notebook's variables are untouched, and its
history `In` stays empty), so its import cell finds them loaded. papermill then runs the notebook on that kernel
(`execute_notebook(..., km=kernel.manager)`), which leaves the kernel and the client it opened to their owner:
`shut_down()` closes that client and stops the kernel, which exits on its own while the next notebook runs.

The client papermill gets is made with the kernel, its output subscription connected while the kernel boots, and it
is ready as soon as the kernel has answered one `kernel_info` request and that request's idle status has come through
(jupyter_client's own check also waits for 0.2 s of silence, and ZeroMQ drops what a kernel publishes before the
subscription is live, which costs a retry: 0.3-0.4 s per notebook on this machine).
"""

from __future__ import annotations

import ast
import asyncio
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

import orjson
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

KERNEL_NAME = "python3"
READY_TIMEOUT = 60.0  # s for a kernel to answer, when the caller gives none (papermill gives its start_timeout)


def imported_modules(notebook: Path) -> list[str]:
    """The modules the code cells of `notebook` import at their top level, in order (`from a.b import c`: a.b).

    Read from the saved JSON (nbformat 4: a source is a string or a list of lines); a cell that is not plain Python
    (a magic) is skipped."""
    found: dict[str, None] = {}
    for cell in orjson.loads(notebook.read_bytes())["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found[node.module] = None
    return list(found)


def preload_line(modules: list[str]) -> str:
    """One IPython `exec_lines` entry importing `modules` in a throwaway namespace (a failing import is left to the
    notebook's own import cell, which says what failed)."""
    code = f"import importlib\nfor name in {modules!r}:\n    try: importlib.import_module(name)\n    except Exception: pass"
    return f"exec({code!r}, {{}})"


class _Client(AsyncKernelClient):
    """A kernel client that is ready when the kernel has answered `kernel_info` and its idle status for that request
    has reached the output channel (so nothing the notebook prints next can be lost)."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (READY_TIMEOUT if timeout is None else timeout)
        while time.monotonic() < deadline:
            request = self.kernel_info()
            reply = await self._reply_to(request, self.shell_channel, until=time.monotonic() + 1)
            if reply is not None and await self._reply_to(request, self.iopub_channel, until=time.monotonic() + 1,
                                                          idle=True) is not None:
                self._handle_kernel_info_reply(reply)
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
        raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    @staticmethod
    async def _reply_to(request: str, channel: Any, until: float, idle: bool = False) -> dict[str, Any] | None:
        """The first message on `channel` answering `request` (with `idle`: its idle status) before `until`; the
        messages before it (a previous attempt's, the kernel's start-up status) are dropped."""
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") != request:
                continue
            if not idle or (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"):
                return dict(msg)
        return None


class _Manager(AsyncKernelManager):
    """A kernel manager whose client is made with the kernel, its output subscription connecting while the kernel
    boots; it remembers the clients made from it: papermill opens one and, when the kernel is not its own, leaves it
    open."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_factory = _Client
        self.clients: list[Any] = []
        self._early: Any = None

    def connect_early(self) -> None:
        """Make the client now and connect its shell and output channels (the heartbeat's thread starts when the
        client's user starts its channels)."""
        self._early = self.client()
        self._early.start_channels(hb=False, stdin=False, control=False)

    def client(self, **kwargs: Any) -> Any:
        if self._early is not None and not kwargs:
            made, self._early = self._early, None
            return made
        made = super().client(**kwargs)
        self.clients.append(made)
        return made


class StartedKernel:
    """A kernel started now for `notebook` (working directory `cwd`), its imports loading as it boots.

    Usage::

        kernel = StartedKernel(Path("notebooks/02_traffic.ipynb"), cwd=root)
        papermill.execute_notebook(..., kernel_name=KERNEL_NAME, km=kernel.manager)
        kernel.shut_down()
    """

    def __init__(self, notebook: Path, cwd: Path) -> None:
        self.notebook = notebook
        self.manager = _Manager(kernel_name=KERNEL_NAME)
        self._stopped: threading.Thread | None = None
        try:
            preload = [f"--IPKernelApp.exec_lines={preload_line(imported_modules(notebook))}"]
        except (OSError, ValueError, KeyError):  # an unreadable notebook: papermill will say so; boot it bare
            preload = []
        run_sync(self.manager.start_kernel)(cwd=str(cwd), extra_arguments=preload)
        self.manager.connect_early()

    def shut_down(self, wait: bool = False) -> None:
        """Close the clients opened on the kernel (here: their sockets belong to this thread's event loop), then
        stop the kernel (a shutdown request, then a signal if it lingers) in a thread of its own unless `wait`."""
        for client in self.manager.clients:
            client.stop_channels()
        self.manager.clients.clear()
        if self._stopped is None:
            self._stopped = threading.Thread(target=self._stop, name=f"stop-kernel-{self.notebook.stem}", daemon=True)
            self._stopped.start()
        if wait:
            self._stopped.join()

    def _stop(self) -> None:
        asyncio.run(self._stop_kernel())

    async def _stop_kernel(self) -> None:
        if await self.manager.is_alive():
            await self.manager.shutdown_kernel(now=False)
        else:
            await self.manager.cleanup_resources()


class KernelQueue:
    """The kernels of notebooks that run one after another, each started `ahead` notebooks before its turn.

    Usage::

        kernels = KernelQueue(paths, cwd=root, ahead=1)
        kernels.start_from(0)          # the first kernel and the next one, as early as possible
        for i, path in enumerate(paths):
            kernel = kernels.take(i)   # started already; the one after the next starts now
            ...                        # run the notebook on kernel.manager
            kernel.shut_down()
        kernels.close()                # every kernel stopped (those of notebooks never run too)
    """

    def __init__(self, notebooks: list[Path], cwd: Path, ahead: int = 1) -> None:
        self.notebooks, self.cwd, self.ahead = notebooks, cwd, ahead
        self.kernels: dict[int, StartedKernel] = {}

    def start(self, index: int) -> None:
        """Start the kernel of notebook `index` unless it is started (or there is no such notebook)."""
        if index < len(self.notebooks) and index not in self.kernels:
            self.kernels[index] = StartedKernel(self.notebooks[index], self.cwd)

    def start_from(self, index: int) -> None:
        """Start the kernels of notebook `index` and of the `ahead` notebooks after it (those not started yet)."""
        for number in range(index, index + 1 + self.ahead):
            self.start(number)

    def take(self, index: int) -> StartedKernel:
        """The kernel of notebook `index`, to run it now; the kernels of the `ahead` notebooks after it start."""
        self.start_from(index)
        return self.kernels[index]

    def close(self) -> None:
        """Stop every kernel started, and wait until they have exited."""
        for kernel in self.kernels.values():
            kernel.shut_down()
        for kernel in self.kernels.values():
            kernel.shut_down(wait=True)
