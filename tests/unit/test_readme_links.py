"""The README stays a short front page whose relative links all resolve.

The docs site checks its own links (``mkdocs build --strict`` in ``make test``); the README is
outside it, so its links into ``docs/`` are checked here, anchors included.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_ATTR_ID = re.compile(r"\s*\{#([\w-]+)\}$")


def _slug(heading: str) -> str:
    """The anchor GitHub and MkDocs (python-markdown's toc) both give a plain heading."""
    text = unicodedata.normalize("NFKD", heading.replace("`", "")).lower()
    text = re.sub(r"[^\w\s-]", "", text).strip()
    return re.sub(r"[\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (code blocks skipped, ``{#id}`` honoured)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    found = set()
    for heading in _HEADING.findall(text):
        explicit = _ATTR_ID.search(heading)
        found.add(explicit.group(1) if explicit else _slug(heading))
    return found


def relative_links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return [target for target in _LINK.findall(text) if not _SCHEME.match(target)]


def test_slug_matches_the_anchors_docs_use() -> None:
    assert _slug("Routing incoming calls (the call-routing webhook)") == (
        "routing-incoming-calls-the-call-routing-webhook"
    )
    assert _slug("Never lose a lead, never call twice") == "never-lose-a-lead-never-call-twice"


def test_readme_links_resolve_to_files_and_headings() -> None:
    links = relative_links(README)
    assert any(link.startswith("docs/") for link in links)  # it points into the docs site
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = (README.parent / target).resolve() if target else README
        known = path.exists() and (not anchor or (path.suffix == ".md" and anchor in anchors(path)))
        if not known:
            broken.append(link)
    assert broken == []


def test_readme_fits_on_a_screen_or_two() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150
