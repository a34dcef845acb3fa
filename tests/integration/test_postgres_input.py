"""Input PostgreSQL cannot store (NUL characters) is refused or cleaned, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

from flask import Flask

from tests.conftest import services

URL = "/api/v1/callbacks"


def test_nul_characters_never_reach_postgresql(
    make_app: Callable[..., Flask], pg_database: str
) -> None:
    app = make_app(database_url=pg_database)
    client = app.test_client()

    refused = client.post(URL, json={"phone": "+380671112233", "name": "a\x00b"})
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"

    rngst2 = quote(json.dumps({"utmz": {"utm_source": "goo\u0000gle"}}), safe="")
    accepted = client.post(URL, json={"phone": "+380671112233", "rngst2": rngst2})
    assert accepted.status_code == 202
    lead = services(app).store.get(accepted.get_json()["id"])
    assert lead is not None and lead.utm_source == "google"
