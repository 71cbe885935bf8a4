"""Working directories of embedded stacks, and the removal of those a killed stack left.

A stack's directory (broker and Redis logs and data) is removed when the stack stops.
`kill -9` gives it no chance, so every new stack first removes the directories whose
owner is gone: each directory holds the pid of the process that made it, and one whose
process no longer exists is stale. A directory without that file (made before it
existed) is stale once nothing in it changed for a day. Only this user's directories
under the temporary directory, named with the prefix, are ever touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "scorer-devstack-"
OWNER_FILE = "owner.pid"
UNOWNED_STALE_AFTER_S = 86400.0


def new_workdir(base: Path | None = None) -> Path:
    """A fresh working directory owned by this process (stale ones removed first)."""
    remove_stale(base)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    (path / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
    return path


def remove_stale(base: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove this user's stack directories whose owner process is gone; returns them."""
    root = Path(base or tempfile.gettempdir())
    removed = []
    for path in root.glob(f"{PREFIX}*"):
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != os.getuid():
                continue
            if _stale(path, time.time() if now is None else now):
                shutil.rmtree(path)
                removed.append(path)
        except OSError:
            continue  # vanished meanwhile, or not ours to remove
    return removed


def _stale(path: Path, now: float) -> bool:
    try:
        pid = int((path / OWNER_FILE).read_text(encoding="ascii").strip())
    except FileNotFoundError:
        newest = max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
        return now - newest > UNOWNED_STALE_AFTER_S
    except ValueError:
        return False  # being written right now
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True
