"""deploy/prometheus and deploy/grafana: they parse, and every Parley metric they name is one
that a real node's /metrics exposes (a renamed metric would otherwise silence an alert)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]  # PyYAML, in the test set through schemathesis
from prometheus_client.parser import text_string_to_metric_families

from harness import components
from harness.server import ServerHandle

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "parley-alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "parley-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "parley-dashboard.json"
METRIC = re.compile(r"\bparley_[a-z_]+")

#: The series names a family of each type stands for in PromQL (counters only with _total).
_SERIES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def exposed(text: str) -> set[str]:
    """Every series name /metrics offers, labelled families without samples yet included."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in _SERIES.get(family.type, ("",)))
        names.update(s.name for s in family.samples)
    return names


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert rules
    return rules


def dashboard_exprs(panels: list[dict[str, Any]]) -> Iterator[str]:
    for panel in panels:
        yield from dashboard_exprs(panel.get("panels", []))  # panels inside rows
        for target in panel.get("targets", []):
            yield target["expr"]


def test_alert_rules_are_complete() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "two alerts share a name"
    for rule in alert_rules():
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_dashboard_panels_have_queries() -> None:
    board = json.loads(DASHBOARD.read_text())
    graphs = [p for p in board["panels"] if p["type"] != "row"]
    assert graphs and all(p["targets"] for p in graphs)
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"]), "panel ids repeat"


async def test_every_metric_in_alerts_and_dashboard_is_exposed(server: ServerHandle) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        response = await http.get("/metrics")
    response.raise_for_status()
    offered = exposed(response.text)
    assert "parley_ready" in offered and "parley_matches_total" in offered  # the parse worked

    board = json.loads(DASHBOARD.read_text())
    sources = {
        ALERTS.name: [str(rule["expr"]) for rule in alert_rules()],
        DASHBOARD.name: list(dashboard_exprs(board["panels"])),
    }
    for source, exprs in sources.items():
        used = {name for expr in exprs for name in METRIC.findall(expr)}
        assert used, f"{source} names no Parley metric"
        missing = used - offered
        assert not missing, f"{source} uses metrics /metrics does not expose: {sorted(missing)}"


def test_alert_rules_fire_as_their_promtool_unit_tests_say() -> None:
    """deploy/prometheus/parley-alerts.test.yml: series in, which alerts fire (and which not)."""
    promtool = components.promtool_binary()
    components.require(
        "promtool", promtool is not None, "scripts/bootstrap unpacks it from Debian's prometheus"
    )
    assert promtool is not None
    result = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
