"""``deploy/``: the alert rules and the dashboard use metrics we export; the compose file has
the topology docs/deploy.md describes (and test_topology runs as processes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.core import Metric

from service import metrics
from service.metrics.state import Budget, QueueSnapshot, StateCollector

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\bcallgate_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def families() -> list[Metric]:
    """Every family /metrics exports: counted ones, and those read at scrape time."""
    state = StateCollector(lambda: QueueSnapshot(), lambda: Budget(0, 0), lambda: False)
    return [*metrics.registry().collect(), *state.collect()]


def exported() -> dict[str, set[str]]:
    """Every series name /metrics can carry, by the family it belongs to."""
    return {f.name: {f.name + suffix for suffix in SUFFIXES[f.type]} for f in families()}


def series(names: dict[str, set[str]]) -> set[str]:
    return set().union(*names.values())


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "callgate.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def test_alert_rules_use_exported_metrics_only() -> None:
    known = series(exported())
    for rule in rules():
        used = set(NAME.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= known, f"{rule['alert']}: {used - known} not exported"
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]


def test_the_alerts_the_operators_asked_for() -> None:
    by_name = {rule["alert"]: rule["expr"] for rule in rules()}
    assert "callgate_provider_config_fault" in by_name["CallgateProviderConfigurationFault"]
    assert by_name["CallgateTaskOverdue"].endswith("callgate_tasks_oldest_due_age_seconds) > 60")
    assert by_name["CallgateDailyBudgetNearlySpent"].endswith(
        "(callgate_daily_budget_used_ratio) > 0.8"
    )
    assert "callgate_deliveries_failed_total" in by_name["CallgateDeliveriesFailing"]


def test_dashboard_uses_exported_metrics_and_shows_every_one() -> None:
    names = exported()
    known = series(names)
    used: set[str] = set()
    for expr in dashboard_exprs():
        found = set(NAME.findall(expr))
        assert found <= known, f"{expr}: {found - known} not exported"
        used |= found
    for family, its_series in names.items():
        assert used & its_series, f"{family} is on no panel"


def test_metric_names_follow_prometheus_conventions() -> None:
    for family, its_series in exported().items():
        assert family.startswith("callgate_")
        assert not family.endswith("_total")  # the client adds it to counters
        for name in its_series:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    # Times are in seconds, and say so.
    for family in families():
        if family.type == "histogram" or re.search(r"duration|_age_|speed", family.name):
            assert family.name.endswith("_seconds"), family.name
    assert "callgate_daily_budget_used_ratio" in exported()


SERVICES = {"postgres", "redis", "migrate", "web-a", "web-b", "worker-a", "worker-b"}


def test_compose_topology() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    assert services["migrate"]["command"] == ["callgate", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web-a", "web-b", "worker-a", "worker-b"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker-a", "worker-b"):
        assert services[name]["command"] == ["callgate", "worker"]
        assert "ports" not in services[name]
    for name in ("postgres", "redis", "web-a", "web-b"):
        assert "test" in services[name]["healthcheck"]
    # Each web instance counts with the worker it shares its metrics volume with.
    for pair in ("a", "b"):
        assert services[f"web-{pair}"]["volumes"] == services[f"worker-{pair}"]["volumes"]
    assert services["web-a"]["volumes"] != services["web-b"]["volumes"]


@pytest.mark.parametrize("service", sorted(SERVICES - {"postgres", "redis"}))
def test_compose_secrets_are_files_and_settings_exist(service: str) -> None:
    document = compose()
    declared = document["secrets"]
    spec = document["services"][service]
    config = (ROOT / "service" / "config.py").read_text()
    for variable, setting in spec["environment"].items():
        assert variable.startswith("CALLGATE_")
        name = variable.removeprefix("CALLGATE_").removesuffix("_FILE")
        assert f'"{name}"' in config, f"{variable} is not a setting"
        if re.search(r"KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL", name):
            assert variable.endswith("_FILE"), f"{variable} must come as a file"
        if variable.endswith("_FILE"):
            secret = setting.removeprefix("/run/secrets/")
            assert secret in spec["secrets"] and secret in declared
            assert declared[secret]["file"].startswith("./secrets/")
