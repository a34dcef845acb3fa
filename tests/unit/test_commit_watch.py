"""The SQLite poll's first look: has any connection committed since the last one?"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from service.tasks import CommitWatch


def test_a_commit_by_another_connection_is_seen_once(tmp_path: Path) -> None:
    database = tmp_path / "callgate.db"
    other = sqlite3.connect(database)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
    other.commit()
    watch = CommitWatch(database)
    assert watch.seen_new()  # the first look always looks
    assert not watch.seen_new()  # nothing committed since
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    assert watch.seen_new()
    assert not watch.seen_new()
    other.execute("SELECT * FROM t").fetchall()  # a read commits nothing
    assert not watch.seen_new()
    watch.close()
    other.close()


def test_without_a_file_every_look_looks() -> None:
    watch = CommitWatch(None)
    assert watch.seen_new() and watch.seen_new()


def test_a_missing_directory_falls_back_to_looking(tmp_path: Path) -> None:
    watch = CommitWatch(tmp_path / "gone" / "callgate.db")
    assert watch.seen_new() and watch.seen_new()
