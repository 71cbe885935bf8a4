"""The alert rules pass `promtool check rules` and their unit tests (`promtool test
rules`), and the committed Grafana dashboard is exactly what deploy/grafana/dashboard.py
generates."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
ISSUE_ALERTS = {
    "ScorerPartitionStalled", "ScorerConsumerLagGrowing", "ScorerDeadLetterRate",
    "ScorerNoAlerts", "ScorerRedisWriteErrors", "ScorerSLABreaches",
}  # fmt: skip


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool not found on PATH: install Debian's prometheus package "
            "(apt-get install prometheus; scripts/bootstrap does so when run as root)"
        )
    return found


def dashboard_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scorer_dashboard", ROOT / "deploy" / "grafana" / "dashboard.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False,
        cwd=RULES.parent,
    )  # fmt: skip


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_the_issue_asks_for_exists_and_is_unit_tested() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for group in rules["groups"] for r in group["rules"]}
    assert names >= ISSUE_ALERTS
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert tested == names, names - tested


def test_the_committed_dashboard_is_the_generated_one() -> None:
    module = dashboard_module()
    committed = module.OUTPUT.read_text()
    assert committed == module.render(), "stale: run python deploy/grafana/dashboard.py"


def test_the_dashboard_has_the_panels_operators_need() -> None:
    dashboard = json.loads(dashboard_module().OUTPUT.read_text())
    titles = {p["title"] for p in dashboard["panels"] if p["type"] == "timeseries"}
    assert titles >= {
        "Throughput", "Consumer lag", "Alert rate", "Dead letters by reason", "SLA breaches",
        "Hot leads", "p99 latency", "RSS",
    }  # fmt: skip
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}
