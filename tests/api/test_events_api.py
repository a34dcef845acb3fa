"""Events out as the HTTP API shows them: documented webhooks, no secrets, GA4 copies taken."""

from __future__ import annotations

import base64
from collections.abc import Callable

from flask import Flask

from service.config import WEBHOOK_EVENTS, EventSettings

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
EVENTS = EventSettings(
    webhook_urls=("https://crm.example.com/hook",),
    webhook_secret=SECRET,
    notify_urls=("tgram://123456789:AAHsecretBotToken/987654",),
    ga4_measurement_id="G-ABC123",
    ga4_api_secret="ga4-api-secret-0123",
)


def test_no_event_secret_reaches_a_response(make_app: Callable[..., Flask]) -> None:
    app = make_app(events=EVENTS)
    client = app.test_client()
    texts = [
        client.get(path).get_data(as_text=True)
        for path in ("/api/v1/widget-config", "/openapi.json", "/healthz", "/readyz", "/nope")
    ]
    texts.append(client.post("/api/v1/callbacks", json={"phone": "x"}).get_data(as_text=True))
    for text in texts:
        for secret in (SECRET, SECRET[6:], "AAHsecretBotToken", "ga4-api-secret-0123"):
            assert secret not in text


def test_openapi_documents_every_webhook_with_its_headers(make_app: Callable[..., Flask]) -> None:
    spec = make_app().test_client().get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert set(spec["webhooks"]) == {*WEBHOOK_EVENTS, "ping"}
    failed = spec["webhooks"]["lead.failed"]["post"]
    assert {p["name"] for p in failed["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    schema = failed["requestBody"]["content"]["application/json"]["schema"]["allOf"]
    assert schema[0] == {"$ref": "#/components/schemas/WebhookEvent"}
    assert schema[1]["properties"]["type"]["const"] == "lead.failed"
    data = spec["components"]["schemas"]["LeadData"]["properties"]
    assert {"phone", "attribution", "provider_ref", "attempts"} <= set(data)
    attribution = spec["components"]["schemas"]["LeadAttribution"]["properties"]
    assert {"gclid", "fbclid", "yclid", "client_id"} <= set(attribution)


def test_the_ga4_session_copy_is_accepted(make_app: Callable[..., Flask]) -> None:
    client = make_app(events=EVENTS).test_client()
    client.set_cookie("_ga_ABC123", "GS2.1.s1764322215$o3$g1$t1764322300$j0$l0$h0")
    response = client.post(
        "/api/v1/callbacks",
        json={"phone": "0671112233", "ga_session": "GS1.1.1764322215.3.1.1764322300.0.0.0"},
    )
    assert response.status_code == 202
    spec = client.get("/openapi.json").get_json()
    assert "ga_session" in spec["components"]["schemas"]["CallbackRequest"]["properties"]
