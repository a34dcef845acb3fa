"""gunicorn, configured from the same settings as the app (used by ``callgate serve`` and by
``gunicorn.conf.py``, so both ways of starting behave the same)."""

from __future__ import annotations

import logging
import os
from typing import Any

from .config import Settings
from .database import migrate
from .leads import LeadStore
from .logs import prepare_handler
from .metrics import files as metrics_files

log = logging.getLogger("callgate.server")


def share_generated_secret(settings: Settings) -> None:
    """A dry-run secret generated at start must be the same in every worker process."""
    os.environ.setdefault("CALLGATE_SECRET_KEY", settings.secret_key)


def on_starting(server: Any) -> None:
    """In the master, before any worker: bring the schema up to date once, and give this
    instance's workers their metrics directory (they inherit it)."""
    settings = Settings.from_env()
    metrics_files.claim(settings.metrics.dir, "web")
    store = LeadStore(settings.database_url)
    try:
        migrate(store)
    finally:
        store.close()


def worker_exit(server: Any, worker: Any) -> None:
    """Let the worker's in-flight calls finish before it goes."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("callgate")
    if services is not None:
        services.dispatcher.stop(timeout=10)


def child_exit(server: Any, worker: Any) -> None:
    """In the master, when a worker has gone: its live gauges go with it."""
    metrics_files.process_exited(worker.pid)


def gunicorn_logger_class(settings: Settings) -> type[Any]:
    """gunicorn's logger, with our filter on its error and access logs (and our JSON format).

    In text format gunicorn keeps its own line format; numbers are masked and secrets
    redacted either way.
    """
    from gunicorn.glogging import Logger

    class CallgateLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in logger.handlers:
                    prepare_handler(
                        handler, settings.log_format, settings.secret_values(), keep_text=True
                    )

    return CallgateLogger


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings, from ours; the same for ``callgate serve`` and ``gunicorn.conf.py``."""
    return {
        "bind": [settings.bind],
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,  # callgate.http logs one line per request, numbers masked
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "logger_class": gunicorn_logger_class(settings),
        "proc_name": "callgate",
        "control_socket_disable": True,  # several instances may share a machine
        "on_starting": on_starting,
        "worker_exit": worker_exit,
        "child_exit": child_exit,
    }
