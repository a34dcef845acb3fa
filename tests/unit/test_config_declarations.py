"""Each CALLGATE_* setting is declared once, and everything else follows from the declaration:
the variables the code names, the generated reference in the docs, the secrets logs redact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scripts.config_reference import DOCS, PAGE, generated, render
from service.config import ConfigError, Settings
from service.config_fields import Declared, declarations

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {d.name: d for d in declarations(Settings)}
_NAME = re.compile(r"CALLGATE_[A-Z0-9_]*")
# The declarations themselves, and the machinery that reads them.
_CONFIG = {ROOT / "service" / "config.py", ROOT / "service" / "config_fields.py"}


def _sources() -> list[Path]:
    return [*sorted((ROOT / "service").rglob("*.py")), ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]


def _known(name: str) -> bool:
    """Declared; or the ``_FILE`` of a setting that may come as a file (every secret, and a
    few more); or a prefix (``CALLGATE_LIMIT_*``)."""
    if name in DECLARED:
        return True
    if name.endswith("_FILE") and name.removesuffix("_FILE") in DECLARED:
        return bool(DECLARED[name.removesuffix("_FILE")].option("file"))
    return name.endswith("_") and any(d.startswith(name) for d in DECLARED)


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: p.name)
def test_the_committed_reference_is_what_the_declarations_generate(page: Path) -> None:
    assert page.read_text(encoding="utf-8") == generated(page), "run: make docs-config"


def test_topic_pages_show_their_sections_table() -> None:
    for name, section in [
        ("office-hours.md", "Office hours"),
        ("webhooks.md", "CRM webhooks"),
        ("alerts.md", "Chat and e-mail alerts"),
        ("ga4.md", "GA4 lead events"),
    ]:
        assert f"<!-- settings-table:{section} -->" in (DOCS / name).read_text(encoding="utf-8")
    assert "CALLGATE_SLOT_CAPACITY" in (DOCS / "office-hours.md").read_text(encoding="utf-8")
    assert "## Office hours" in PAGE.read_text(encoding="utf-8")


def test_the_reference_lists_every_declared_variable_once() -> None:
    listed = re.findall(r"^\| `(CALLGATE_[A-Z0-9_]+)` \|", render(), re.MULTILINE)
    assert sorted(listed) == sorted(DECLARED)


def test_every_variable_the_code_names_is_declared() -> None:
    unknown = {
        (name, str(path.relative_to(ROOT)))
        for path in _sources()
        for name in _NAME.findall(path.read_text(encoding="utf-8"))
        if not _known(name)
    }
    assert unknown == set()


def test_every_variable_the_docs_name_is_declared() -> None:
    unknown = {
        (name, str(path.relative_to(ROOT)))
        for path in sorted((ROOT / "docs").rglob("*.md"))
        for name in _NAME.findall(path.read_text(encoding="utf-8"))
        if not _known(name)
    }
    assert unknown == set()


def test_no_declared_setting_is_unused() -> None:
    code = "\n".join(path.read_text(encoding="utf-8") for path in _sources() if path not in _CONFIG)
    unused = [d.name for d in DECLARED.values() if not re.search(rf"\.{d.path[-1]}\b", code)]
    assert unused == []


def test_a_variable_is_declared_once() -> None:
    names = [d.name for d in declarations(Settings)]
    assert len(names) == len(set(names))
    for declared in DECLARED.values():
        assert declared.field.description, f"{declared.name} has no documentation"


def _with(settings: Settings, declared: Declared, value: Any) -> Settings:
    """``settings`` with the value at ``declared.path`` replaced."""
    head, *rest = declared.path
    if not rest:
        return settings.model_copy(update={head: value})
    group = getattr(settings, head)
    return settings.model_copy(update={head: group.model_copy(update={rest[0]: value})})


@pytest.mark.parametrize(
    "declared", [d for d in DECLARED.values() if d.secret], ids=lambda d: d.name
)
def test_a_declared_secret_is_redacted_and_never_in_repr(declared: Declared) -> None:
    value = "sekrit-" + declared.name.lower()
    kind = declared.field.annotation
    given = (value,) if kind is not None and "tuple" in str(kind) else value
    settings = _with(Settings(), declared, given)
    assert value in settings.secret_values()
    assert value not in repr(settings)


def test_settings_that_are_not_secret_are_not_redacted() -> None:
    settings = Settings(bind="10.0.0.7:8000", database_url="sqlite:///x.db")
    assert "10.0.0.7:8000" not in settings.secret_values()
    assert settings.secret_values() == ()


@pytest.mark.parametrize(
    "declared", [d for d in DECLARED.values() if d.secret], ids=lambda d: d.name
)
def test_every_secret_may_come_from_a_file(declared: Declared, tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("not-a-valid-value-of-anything\n")
    try:
        settings = Settings.from_env({declared.name + "_FILE": str(path)})
    except ConfigError as error:  # read, then refused (or its pair is missing): never shown
        assert "not-a-valid-value-of-anything" not in str(error)
    else:
        assert "not-a-valid-value-of-anything" in settings.secret_values()
