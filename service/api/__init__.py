"""The HTTP layer: blueprints, schemas, problem details, origins."""

from __future__ import annotations

from flask import Flask

from . import callbacks, health, metrics, openapi, ringostat_route, site, slots, widget


def register_blueprints(app: Flask) -> None:
    for module in (callbacks, health, metrics, openapi, ringostat_route, site, slots, widget):
        app.register_blueprint(module.bp)
