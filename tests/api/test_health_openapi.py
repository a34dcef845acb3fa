from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {
        "store": "ok",
        "schema": "ok",
        "provider": "ok",
        "rate_limits": "ok",
    }


def test_openapi_is_generated_from_the_schemas(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    request = spec["components"]["schemas"]["CallbackRequest"]
    assert request["required"] == ["phone"]
    assert request["properties"]["name"]["maxLength"] == 100
    assert "post" in spec["paths"]["/api/v1/callbacks"]
    assert "get" in spec["paths"]["/api/v1/callbacks/{lead_id}"]


def test_demo_page_has_a_plain_form(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'action="/api/v1/callbacks"' in page and 'type="tel"' in page
