"""Owner-only files and folders: a sandbox's folder holds its keys (sandbox.json) and everything sent to it.

DuckDB creates its files itself, and re-creates the `.wal` after every checkpoint, with the process umask, so no
mode can be passed to it. Hence three layers, each enough on its own against other local users:

- the data folder is 0700 (created so, or tightened), so nothing inside it can be reached by them;
- the umask is 0o077 while the sandbox opens its database (`owner_only_umask`), and for good in a process that
  is the sandbox (`SandboxServer.serve_forever`), so every file it creates is 0600;
- files a looser older version left behind are tightened when the sandbox opens them (`private_file`).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from autonomic_lib.errors import SandboxError

log = logging.getLogger("autonomic_lib.sandbox")
OWNER_ONLY_UMASK = 0o077
_UMASK_LOCK = threading.RLock()  # the umask is per process: two threads narrowing it must not restore it crosswise


@contextmanager
def owner_only_umask() -> Iterator[None]:
    """Files and folders created in the block (by this thread or a library) are 0600/0700 whatever the umask.

    The umask is the process's, so other threads creating files meanwhile get owner-only modes too (never looser).
    """
    with _UMASK_LOCK:
        previous = os.umask(OWNER_ONLY_UMASK)
        try:
            yield
        finally:
            os.umask(previous)


def private_dir(path: Path) -> Path:
    """Create `path` (and any missing parents) with the folder itself 0700, or tighten an existing one to 0700.

    Raises:
        SandboxError: `path` is a shared folder (world-writable or sticky, like /tmp), or it cannot be tightened
            (another user owns it); the message names the folder and its mode.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return path
    if mode & (0o002 | stat.S_ISVTX):
        raise SandboxError(f"data folder {path} is shared with other users (mode {mode:04o}); give the sandbox a "
                           "folder of its own (it is created with mode 0700)")
    try:
        os.chmod(path, 0o700)
    except OSError as exc:
        raise SandboxError(f"data folder {path} is readable by other users (mode {mode:04o}) and cannot be made "
                           f"private: {exc.strerror}; give the sandbox a folder of its own") from None
    log.warning("data folder %s was readable by other users (mode %04o); it is now 0700 (it holds the sandbox's "
                "keys and data)", path, mode)
    return path


def private_file(path: Path) -> None:
    """Make an existing file 0600 if it is looser (a store or log written by an older version); no-op if absent."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, 0o600)


def open_private(path: Path, flags: int) -> int:
    """`os.open(path, flags | O_CREAT)` as 0600, tightening a file that already existed looser; returns the fd."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd
