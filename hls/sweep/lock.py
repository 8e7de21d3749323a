"""The lock a running sweep holds on its output folder, so two sweeps never run the same points.

``<output>/.kappa-sweep.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on a local and on
an NFSv3+ file system) and holds the holder's PID, host name and start time as JSON. A second
sweep on the same folder is refused, naming the holder. A lock whose holder is on this host
and no longer alive (``os.kill(pid, 0)`` raises ``ProcessLookupError``) is stale: it is
taken over with a warning. A lock held from another host is never taken over (kappa cannot
tell whether that process is alive): the message says which file to remove.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from pathlib import Path

from .spec import LOCK, SweepError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _create(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}, f)


def acquire(output: Path) -> Path:
    """Take the lock on ``output`` (an existing directory); returns the lock file's path.

    Raises:
        SweepError: another sweep holds it (names its PID, host and start time), or the
            lock file is unreadable and not provably stale (names the file to remove).
    """
    path = Path(output) / LOCK
    for _ in range(3):
        try:
            _create(path)
            return path
        except FileExistsError:
            pass
        try:
            holder = json.loads(path.read_text())
            pid, host = int(holder["pid"]), str(holder["host"])
            started = float(holder.get("started", 0))
        except FileNotFoundError:
            continue  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            raise SweepError(f"{path} exists and is unreadable: another sweep may be running on {output}; "
                             f"if none is, remove {path}") from None
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
        if host != socket.gethostname() or _alive(pid):
            raise SweepError(f"another sweep (PID {pid} on host {host}, started {when}) is running on {output}; "
                             f"wait for it to finish, or remove {path} if it is gone")
        warnings.warn(f"taking over the stale lock {path} of PID {pid} on {host} (started {when}; "
                      "that process is gone)", stacklevel=2)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    raise SweepError(f"cannot take the lock {path}: other processes keep creating it")


def release(path: Path) -> None:
    """Remove the lock file if this process holds it."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        holder = json.loads(path.read_text())
        if int(holder["pid"]) == os.getpid() and holder["host"] == socket.gethostname():
            path.unlink()
