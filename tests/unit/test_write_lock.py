"""The SQLite write lock: one writer at a time across processes, handed over on release."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from service.database.locking import WriteLock
from tests.servers import wait_until

HOLDER = """
import sys, time
from pathlib import Path
from service.database.locking import WriteLock
database, marker = Path(sys.argv[1]), Path(sys.argv[2])
with WriteLock(database):
    marker.write_text("holding")
    time.sleep(1.0)
    marker.write_text("released")
"""


def test_another_process_waits_for_the_holder(tmp_path: Path) -> None:
    database, marker = tmp_path / "callgate.db", tmp_path / "marker"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database), str(marker)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_until(lambda: marker.exists(), 15, "the other process to take the lock")
        with WriteLock(database):
            # Granted only once the holder let go, so its last word is already written.
            assert marker.read_text() == "released"
    finally:
        holder.wait(15)
    assert (tmp_path / "callgate.db.lock").exists()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "callgate.db")
    inside: list[int] = []
    overlaps: list[int] = []

    def work(n: int) -> None:
        for _ in range(50):
            with lock:
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(n)
                inside.remove(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []


def test_an_in_memory_database_needs_no_file(tmp_path: Path) -> None:
    with WriteLock(None):
        pass
    assert list(tmp_path.iterdir()) == []
