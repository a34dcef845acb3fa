"""Where the processes of one instance write their metrics, so that a scrape adds them up.

``prometheus_client``'s multiprocess mode keeps each process's values in files under
``PROMETHEUS_MULTIPROC_DIR``. Every launcher (the gunicorn master of ``callgate serve`` or
``gunicorn.conf.py``, and ``callgate worker``) takes a directory of its own under
``CALLGATE_METRICS_DIR`` and exports it to the processes it starts; ``/metrics`` adds up the
files of every launcher there, so gunicorn workers and the ``callgate worker`` beside them
count together.

A launcher's directory is owned through an ``flock`` on a file in it, held for the
launcher's life (and its forked children's). A starting launcher removes the directories whose
lock it can take: those of launchers that are gone, whose counts belong to a past run. Locks,
not pids, because containers sharing a volume all have a pid 1.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import secrets
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
LOCK = "owner.lock"

log = logging.getLogger("callgate.metrics")

# The open lock of this process's launcher directory: kept for the process's life.
_owned: int | None = None


def claim(base: str | Path, kind: str) -> Path:
    """Take a fresh directory under ``base`` for this launcher, remove those of launchers that
    are gone, and point ``PROMETHEUS_MULTIPROC_DIR`` at it (inherited by child processes).

    Call before any metric is written in this process or a child.
    """
    global _owned
    root = Path(base).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    name = f"{kind}-{secrets.token_hex(4)}"
    # Locked under a hidden name first, so another launcher's clean-up never sees it unlocked.
    hidden = root / ("." + name)
    hidden.mkdir()
    fd = os.open(hidden / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    own = hidden.rename(root / name)
    if _owned is not None:
        os.close(_owned)
    _owned = fd
    os.environ[ENV] = str(own)
    return own


def _remove_abandoned(root: Path) -> None:
    for entry in root.iterdir():
        lock = entry / LOCK
        if entry.name.startswith(".") or not entry.is_dir() or not lock.exists():
            continue  # not ours, or a launcher still setting up
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its launcher is alive
        finally:
            os.close(fd)
        shutil.rmtree(entry, ignore_errors=True)
        log.info("metrics: removed the counts of a past run (%s)", entry.name)


def current() -> Path | None:
    """This process's directory, or None when it keeps its metrics in memory."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def files(root: Path) -> list[str]:
    """Every process's value files, of every launcher under ``root``."""
    return sorted(glob.glob(str(root / "*" / "*.db")))


def process_exited(pid: int) -> None:
    """A process of this launcher ended: drop its live gauges (its counters stay counted)."""
    if current() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
