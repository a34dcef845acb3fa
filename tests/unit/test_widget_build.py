"""The served widget (``service/static/``) is exactly the build of its readable source."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from service.api.widget import SIZE_BUDGET
from tests.servers import ROOT

STATIC = ROOT / "service" / "static"
BUILD = ROOT / "scripts" / "build_widget.py"


def _files(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_served_files_are_the_build_of_the_source(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(BUILD), str(tmp_path)], check=True, capture_output=True)
    built = _files(tmp_path)
    assert "widget.js" in built and "widget-captcha.js" in built and "i18n/en.json" in built
    committed = _files(STATIC)
    stale = sorted(name for name in built if committed.get(name) != built[name])
    assert not stale, f"service/static is not the build of widget/: run `make widget` ({stale})"
    assert set(committed) == set(built), "files in service/static that the build does not make"


def test_served_widget_is_minified_and_mangled() -> None:
    source = (ROOT / "widget" / "src" / "callgate.js").read_text(encoding="utf-8")
    served = (STATIC / "widget.js").read_text(encoding="utf-8")
    assert "const apiBase" in source and "apiBase" not in served  # local names mangled
    assert "//" not in served.replace("://", "")  # no comments
    assert len(served) < len(source) / 2


def test_widget_js_as_served_fits_the_budget() -> None:
    served = (STATIC / "widget.js").read_bytes()
    assert len(gzip.compress(served, compresslevel=9, mtime=0)) <= SIZE_BUDGET == 5 * 1024
