"""A real Prometheus (Debian's `prometheus`, on loopback) scrapes a real worker fed
simulated traffic: every query of the Grafana dashboard returns data, the alert rules
load and evaluate, and the dashboard's panels are drawn from the run's data.

RENDER_DASHBOARD_PNG=docs/dashboard.png keeps the picture (scripts/dashboard-picture).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.devstack import ManagedProcess, free_port
from scorer.devstack.servers import LOOPBACK
from scorer.simulator import Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import WorkerProcess, http_get, produce, run, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RATE_WINDOW = "1m"  # stands in for Grafana's $__rate_interval
FEED_S = 20.0


def _deploy_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"scorer_deploy_{name}", ROOT / "deploy" / "grafana" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(
            "prometheus not found on PATH: install Debian's prometheus package "
            "(apt-get install prometheus; scripts/bootstrap does so when run as root)"
        )
    return found


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Starts Prometheus scraping the given host:port every second; yields its URL."""
    started: list[ManagedProcess] = []

    def start(target: str) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {"job_name": "scorer", "static_configs": [{"targets": [target]}]}
                    ],
                }
            )
        )  # JSON is YAML
        process = ManagedProcess(
            "prometheus",
            [
                prometheus_binary(), f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            log_path=tmp_path / "prometheus.log",
        )  # fmt: skip
        started.append(process)
        process.start()
        url = f"http://{LOOPBACK}:{port}"
        process.wait_until(lambda: http_get(url + "/-/ready")[0] == 200, 30, "ready")
        return url

    yield start
    for process in started:
        process.stop()


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert status == 200, (expr, body[:300])
    result: list[dict[str, Any]] = orjson.loads(body)["data"]["result"]
    return result


def test_every_dashboard_query_returns_data_from_a_real_worker(
    make_settings: Callable[..., Any],
    start_worker: Callable[..., WorkerProcess],
    prometheus: Callable[[str], str],
    tmp_path: Path,
) -> None:
    render = _deploy_module("render")
    # Days become seconds, so MQLs miss their follow-up SLA within the run.
    settings = make_settings(partitions=2, time_scale=1 / 86400)
    run(apply_topics(settings))
    worker = start_worker(settings)
    url = prometheus(f"{LOOPBACK}:{settings.web_port}")
    begun = time.time()

    # Traffic in real time (event time = wall clock), so the lag and latency panels show
    # what a live worker sees; three bad messages along the way for the dead-letter panel.
    population = Population(leads=60, accounts=6, hot_share=0.2, seed=5)
    events = list(simulate(population, time.time() + 1, duration_s=FEED_S, rate_per_s=8))
    feeding = threading.Thread(target=_feed_in_real_time, args=(settings, events), daemon=True)
    feeding.start()

    panels = render.dashboard_panels()
    queries = {t["expr"]: p["title"] for p in panels for t in p["targets"]}

    def without_data() -> list[str]:
        return [
            f"{title}: {expr}"
            for expr, title in queries.items()
            if not _query(url, render.promql(expr, RATE_WINDOW))
        ]

    missing: list[str] = []

    def all_have_data() -> bool:
        missing[:] = without_data()
        return not missing

    try:
        wait_for(all_have_data, 60, "every dashboard query to return data", interval_s=1)
    except AssertionError:
        raise AssertionError(f"dashboard queries without data: {missing}") from None
    feeding.join(FEED_S + 30)

    # The alert rules load in a real server and evaluate without error.
    assert len(_rules(url)) == 7
    wait_for(lambda: all(r["health"] == "ok" for r in _rules(url)), 15, "every rule evaluated")

    picture = tmp_path / "dashboard.png"
    empty = render.render_png(url, picture, begun - 5, time.time(), RATE_WINDOW)
    assert not empty, f"panels drawn without data: {empty}"
    assert picture.stat().st_size > 20_000
    keep = os.environ.get("RENDER_DASHBOARD_PNG")
    if keep:
        shutil.copyfile(picture, ROOT / keep)
    assert worker.process.exit_code() is None


def _rules(url: str) -> list[dict[str, Any]]:
    body = http_get(f"{url}/api/v1/rules")[1]
    return [r for g in orjson.loads(body)["data"]["groups"] for r in g["rules"]]


def _feed_in_real_time(settings: Any, events: list[Any]) -> None:
    """Each second, produce the events whose event time has come (load pacing)."""
    bad = (contract.WEB_EVENTS, b"lead-bad", b"{not json")
    pending = sorted(events, key=lambda e: e.at)
    second = 0
    while pending:
        now = time.time()
        due = [e for e in pending if e.at <= now]
        pending = pending[len(due) :]
        batch = [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in due]
        if second % 6 == 3:
            batch.append(bad)
        run(produce(settings, batch))
        second += 1
        time.sleep(max(0.0, now + 1 - time.time()))  # load pacing, not a wait for a condition
