"""Per-launcher metrics directories: taken, kept while their launcher lives, then cleaned."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from service.metrics import files
from tests.servers import ROOT


@pytest.fixture(autouse=True)
def _keep_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # claim() exports the directory; the test's own process must not keep it afterwards.
    monkeypatch.setenv(files.ENV, "")
    monkeypatch.delenv(files.ENV)


def _launcher(base: Path, kind: str) -> subprocess.Popen[str]:
    """Another process that claims a directory and lives until its stdin closes."""
    code = textwrap.dedent(
        f"""
        import sys
        from service.metrics import files
        print(files.claim({str(base)!r}, {kind!r}), flush=True)
        sys.stdin.read()
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_claim_exports_a_directory_of_its_own(tmp_path: Path) -> None:
    own = files.claim(tmp_path / "metrics", "web")
    assert own.parent == (tmp_path / "metrics").resolve()
    assert own.name.startswith("web-")
    assert os.environ[files.ENV] == str(own)
    assert files.current() == own


def test_a_live_launcher_keeps_its_counts_and_a_gone_one_loses_them(tmp_path: Path) -> None:
    base = tmp_path / "metrics"
    alive, gone = _launcher(base, "worker"), _launcher(base, "web")
    assert alive.stdout is not None and gone.stdout is not None
    alive_dir = Path(alive.stdout.readline().strip())
    gone_dir = Path(gone.stdout.readline().strip())
    (alive_dir / "counter_7.db").write_bytes(b"")
    (gone_dir / "counter_7.db").write_bytes(b"")
    assert files.files(base.resolve()) == sorted(
        [str(alive_dir / "counter_7.db"), str(gone_dir / "counter_7.db")]
    )
    assert gone.stdin is not None
    gone.stdin.close()
    gone.wait(10)

    mine = files.claim(base, "web")
    assert sorted(p.name for p in base.iterdir()) == sorted([alive_dir.name, mine.name])
    assert files.files(base.resolve()) == [str(alive_dir / "counter_7.db")]

    assert alive.stdin is not None
    alive.stdin.close()
    alive.wait(10)


def test_a_process_that_ended_drops_its_live_gauges(tmp_path: Path) -> None:
    own = files.claim(tmp_path / "metrics", "web")
    (own / "gauge_livemax_4242.db").write_bytes(b"")
    (own / "counter_4242.db").write_bytes(b"")
    files.process_exited(4242)
    assert sorted(p.name for p in own.iterdir()) == ["counter_4242.db", files.LOCK]


def test_importing_the_service_leaves_prometheus_client_unloaded() -> None:
    """The launchers choose the directory after ``service`` is imported; prometheus_client
    fixes its mode when it is imported, so that must come later."""
    code = (
        "import sys, service, service.cli, service.server\n"
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
