"""`scripts/bench --quick` runs end to end and reports every default system.

It checks that the harness works (every system read events at a positive rate, latency,
memory in a worker and recovery were measured, every issue-16 target is in the table,
the files were written), not how fast anything is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.support import Servers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(420)
def test_quick_benchmark_reports_every_default_system(servers: Servers, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "bench", "--quick", "--no-plot", "--out", str(tmp_path),
            "--kafka", servers.kafka_bootstrap, "--redis", servers.redis_url,
        ],
        cwd=REPO, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    results = orjson.loads(next(tmp_path.glob("*.json")).read_bytes())

    systems = results["throughput_summary"]["systems"]
    assert set(systems) == {
        "limit", "quix", "peer", "faust-bare", "scorer", "scorer-envelopes", "core-offline",
    }  # fmt: skip
    for name, row in systems.items():
        assert row["median"] > 0, name
        assert row["events_min"] > 0, name
    assert results["throughput_summary"]["ratios"]["scorer/peer"]["median"] > 0
    assert results["throughput_summary"]["ratios"]["scorer/quix"]["median"] > 0
    assert results["throughput_summary"]["ratios"]["scorer/faust-bare"]["median"] > 0
    assert results["throughput_summary"]["ratios"]["scorer-envelopes/core-offline"]["median"] > 0
    (core,) = [run for run in results["throughput"] if run["system"] == "core-offline"]
    assert core["events"] == results["workload"]["events"]
    assert core["extra"]["events_per_cpu_s"] > 0

    (latency,) = results["latency"]
    assert latency["produced"] == latency["rate"] * latency["duration_s"]
    assert latency["event_to_alert_s"]["mql"]["count"] > 0
    assert latency["event_to_redis_s"]["count"] > 0
    assert latency["lag_series"]

    (memory,) = results["memory"]
    assert memory["mode"] == "worker (preloaded changelogs)"
    assert memory["store"] == "rocksdb"
    assert memory["complete"]
    assert memory["leads"] >= 200
    assert memory["events_scored"] >= memory["touched_leads"] > 0
    (load,) = results["memory_input"]["loads"]
    assert load["lead_records"] == memory["leads"]
    assert load["timers_due"] == 0
    assert memory["rss_per_lead_bytes"] > 0
    assert memory["disk_per_lead_bytes"] > 0
    (recovery,) = results["recovery"]
    assert recovery["from"] == "changelog"
    assert recovery["leads"] >= memory["leads"]  # every lead came back from the changelog
    assert 0 < recovery["ready_s"] <= recovery["cap_s"]
    assert 0 < recovery["scored_s"] <= recovery["cap_s"]
    issue_16 = [row["target"] for row in results["targets"]][:8]
    assert len(issue_16) == 8

    collector = results["collector"]
    assert collector["throughput"]["accepted"] > 0
    assert collector["throughput"]["failed"] == 0
    assert collector["batched"]["accepted"] % 10 == 0
    assert collector["batched"]["accepted"] > 0
    assert collector["latency"]["requests"] == collector["latency"]["rate"] * 5
    assert collector["latency"]["latency_s"]["count"] > 0

    table = (tmp_path / "latest.md").read_text()
    for name in (
        "| limit |",
        "| quix |",
        "| peer |",
        "| faust-bare |",
        "| scorer |",
        "| core-offline |",
        "scorer/quix",
        "| scorer-envelopes |",
        "event → MQL alert",
        "### Recovery",
        "accepted events/s per process (one event per request)",
        *(f"| {target} |" for target in issue_16),
    ):
        assert name in table
    assert "| limit |" in done.stdout
