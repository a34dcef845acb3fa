"""Build the widget: minify and mangle ``widget/src/*.js`` with esbuild into ``service/static/``.

``make widget`` runs it; ``tests/unit/test_widget_build.py`` runs it into a temporary directory
and fails when the committed files differ from the build of the source. What is served is what
this writes: ``widget.js`` (a classic script), one ES module ``widget-<name>.js`` per lazily
imported module (``callgate-<name>.js`` in the source), and the i18n dictionaries as compact JSON.

esbuild comes from npm (``widget/package.json``, pinned, installed by ``npm ci`` into
``widget/node_modules``): the PyPI ``esbuild-py`` binding exposes only a JSX transform without
options, so it cannot minify.

Usage: ``python scripts/build_widget.py [OUT_DIR]`` (default ``service/static``).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "widget" / "src"
I18N = ROOT / "widget" / "i18n"
STATIC = ROOT / "service" / "static"
ESBUILD = ROOT / "widget" / "node_modules" / ".bin" / "esbuild"
# Chromium, Firefox and Safari of 2022 on: dynamic import(), ?. and ?? are all native.
TARGET = "es2020"
MAIN = "callgate.js"


def launcher_labels() -> str:
    """Every language's launcher label as a JS object: widget.js shows the launcher before its
    settings arrive when they are slow. The dictionaries stay the one place for the words."""
    labels = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))["launcher"]
        for path in sorted(I18N.glob("*.json"))
    }
    return json.dumps(labels, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def esbuild(source: Path, out: Path, module: bool) -> None:
    """Minify (whitespace, syntax) and mangle local names; no source map, no legal comments."""
    if not ESBUILD.exists():
        raise SystemExit(f"{ESBUILD} is missing: run `npm ci --prefix widget` (or `make widget`)")
    subprocess.run(  # noqa: S603 - our own pinned tool, fixed arguments
        [
            str(ESBUILD),
            str(source),
            "--minify",
            f"--target={TARGET}",
            "--charset=utf8",
            "--legal-comments=none",
            "--log-level=warning",
            # The main script is an IIFE already: a classic script, as written.
            *(["--format=esm"] if module else [f"--define:LAUNCHER_LABELS={launcher_labels()}"]),
            f"--outfile={out}",
        ],
        check=True,
    )


def build(out_dir: Path) -> list[Path]:
    """Write every served widget file into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(SOURCE.glob("callgate*.js")):
        if source.name == MAIN:
            target, module = out_dir / "widget.js", False
        else:
            target, module = out_dir / source.name.replace("callgate-", "widget-"), True
        esbuild(source, target, module)
        written.append(target)
    (out_dir / "i18n").mkdir(exist_ok=True)
    for dictionary in sorted(I18N.glob("*.json")):
        words = json.loads(dictionary.read_text(encoding="utf-8"))
        target = out_dir / "i18n" / dictionary.name
        compact = json.dumps(words, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        target.write_text(compact + "\n", encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    # The size report on every build: what a visitor downloads is the gzipped size.
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else STATIC):
        data = path.read_bytes()
        zipped = len(gzip.compress(data, compresslevel=9, mtime=0))
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{name}: {len(data)} bytes, {zipped} gzipped")
