"""callgate: a website's call-me-back form becomes a real phone call, attribution intact."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs
from .agents import build_monitor, namespace
from .api import origins, problems, register_blueprints
from .api.bodies import StrictJSONProvider
from .captcha import CaptchaVerifier
from .config import Settings
from .database import schema
from .dispatch import Dispatcher
from .events.hook import outbox_for
from .hours import OfficeHours
from .leads import LeadStore
from .limits import init_app as init_limits
from .phone import PhonePolicy
from .providers import build_provider
from .routing import RoutedLedger, Router
from .services import Services
from .shared import connect

MAX_BODY = 16 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

access_log = logging.getLogger("callgate.http")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Without ``settings`` they are read from the environment.

    Raises :class:`~service.database.schema.SchemaBehind` when the database schema is behind and
    ``CALLGATE_AUTO_MIGRATE`` is off; with it on (the default) the schema is migrated first.
    """
    settings = settings or Settings.from_env()
    logs.configure_logging(settings.log_level, settings.secret_values(), settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    store = LeadStore(
        settings.database_url,
        settings.blocklist_refresh,
        outbox_for(settings),
        ipv6_prefix=settings.client_address.ipv6_prefix,
    )
    # Before anything reads or writes a lead (the inline dispatcher starts below).
    schema.ensure(store, settings.schema.auto_migrate)
    provider = build_provider(settings)
    shared = connect(settings.redis_url)
    agents = build_monitor(settings, shared)
    hours = OfficeHours.from_settings(settings.hours)
    dispatcher = Dispatcher(settings, store, provider, agents=agents, hours=hours)
    router = Router(settings, store, agents, RoutedLedger(shared, namespace(settings)))
    app.extensions["callgate"] = Services(
        settings=settings,
        store=store,
        provider=provider,
        dispatcher=dispatcher,
        phone_policy=PhonePolicy(
            settings.default_region,
            settings.allowed_countries,
            settings.blocked_number_types,
            settings.blocked_prefixes,
        ),
        captcha=CaptchaVerifier(settings),
        hours=hours,
        agents=agents,
        router=router,
        schema=schema.SchemaCheck(store.engine),
    )
    init_limits(app, settings)
    origins.init_app(app, settings.allowed_origins)
    problems.register(app)
    register_blueprints(app)
    _log_requests(app)
    if settings.dispatcher == "inline":
        dispatcher.start()
    if settings.route.token and agents is not None:
        # The webhook reads status without waiting: keep it warm between calls.
        agents.start()
    return app


def _log_requests(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()
        # Reset at teardown: gunicorn's threads serve one request after another.
        g.log_tokens = (logs.set_request_id(g.request_id), logs.set_lead_id(None))

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        # Nothing of ours belongs in someone else's frame (clickjacking a "call me" button).
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            "rid=%s %s %s %d %.1fms ip=%s",
            g.get("request_id", "-"),
            request.method,
            request.path,
            response.status_code,
            elapsed,
            request.remote_addr,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed, 1),
                "client_ip": request.remote_addr,
            },
        )
        return response

    @app.teardown_request
    def _forget(_error: BaseException | None) -> None:
        tokens = g.pop("log_tokens", None)
        if tokens is not None:
            logs.reset_request_id(tokens[0])
            logs.reset_lead_id(tokens[1])
