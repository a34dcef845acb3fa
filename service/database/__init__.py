"""Database mechanics: engines, the writers' lock, the group commit and the schema's migrations."""

from __future__ import annotations

from .engine import make_engine, sqlite_file
from .schema import SchemaBehind, migrate

__all__ = ["SchemaBehind", "make_engine", "migrate", "sqlite_file"]
