"""The benchmark's own parts: schedules, workloads and statistics (no servers needed)."""

from __future__ import annotations

import math

from bench.latency import PROBE_EVERY, plan
from bench.scorer_worker import with_shared_inputs
from bench.stats import percentile, slope, summary
from bench.workload import Workload, generate, type_mix
from scorer.contracts import topics as contract
from scorer.settings import load_settings


def test_the_workload_has_exactly_n_events_of_the_simulators_mix() -> None:
    events = generate(Workload(events=4_000, leads=1_000, accounts=100, seed=3))
    assert len(events) == 4_000
    mix = type_mix(events)
    assert mix["profile.updated"] == 1_000
    assert {"web.page_view", "email.open", "web.form_submit"} <= set(mix)
    assert len({e.key for e in events}) == 1_000


def test_the_open_loop_plan_fills_every_slot_with_journeys_and_probes() -> None:
    schedule = plan(rate=200, duration_s=10)
    assert len(schedule) == 2_000
    assert [p.offset_s for p in schedule[:3]] == [0.0, 0.005, 0.01]
    probes = [p for p in schedule if p.probe]
    assert len(probes) >= 2_000 // PROBE_EVERY - 10
    assert len({p.event.key for p in probes}) == len(probes)  # each probe is a new lead
    assert sum(p.event.value["type"] == "web.form_submit" for p in schedule) >= 30


def test_shared_inputs_rename_only_the_input_topics() -> None:
    settings = with_shared_inputs(load_settings({}, topic_prefix="run1."), "in.")
    assert settings.topic(contract.WEB_EVENTS) == f"in.{contract.WEB_EVENTS}"
    assert settings.topic(contract.HANDOFF_ALERTS) == f"run1.{contract.HANDOFF_ALERTS}"
    assert settings.topic(contract.REKEYED_EVENTS) == f"run1.{contract.REKEYED_EVENTS}"


def test_percentiles_count_unseen_samples_as_slowest() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    censored = summary(values, censored=5)
    assert math.isinf(censored["p99"])
    assert censored["count"] == 100
    assert censored["not_seen"] == 5
    assert slope([(0, 0), (1, 2), (2, 4)]) == 2


def test_the_collector_phase_is_reported_with_its_targets() -> None:
    from bench import report
    from bench.targets import targets

    latency = {"count": 10, "not_seen": 0, "p50": 0.004, "p99": 0.03, "p99.9": 0.05, "max": 0.06}
    results = {
        "config": {}, "started_at": "2026-12-01T00:00:00Z", "wall_seconds": 1.0,
        "command": "scripts/bench --phases collector",
        "machine": {"cpu": "x", "cores": 2, "ram_gb": 1, "python": "3.11", "packages": {},
                    "broker": "b", "redis": "r"},
        "collector": {
            "linger_ms": 1, "idempotent": True, "load_average_1m": {"before": 1.0, "after": 2.0},
            "throughput": {"accepted": 60_000, "failed": 0, "seconds": 10.0, "events_per_s": 6_000.0,
                           "concurrency": 32, "latency_s": latency, "collector_cpu_percent": 95.0},
            "latency": {"rate": 1000.0, "seconds": 10.0, "requests": 10_000, "failed": 0,
                        "not_sent": 0, "latency_s": latency, "collector_cpu_percent": 40.0},
        },
    }  # fmt: skip
    rows = {row["target"]: row for row in targets(results)}
    assert rows["collector ≥ 5,000 accepted events/s per process (one event per request)"]["met"]
    assert rows["collector p99 ≤ 25 ms at 1,000 req/s"]["shortfall"] == "1.2x over"
    assert "| open loop, 1,000 req/s, 10 s | 10,000 | - | 4 ms / 30 ms / 50 ms | 0 | 0 |" in (
        report.markdown(results)
    )


def test_collector_load_bodies_are_one_event_or_one_leads_batch() -> None:
    import orjson

    from bench.collector import _body

    single = orjson.loads(_body(7))
    assert single["type"] == "web.page_view"
    batch = orjson.loads(_body(7, 10))
    assert len(batch) == 10
    assert len({e["lead_id"] for e in batch}) == 1
    assert len({e["event_id"] for e in batch}) == 10


def test_bucket_quantile_reads_the_histogram_between_two_readings() -> None:
    from bench.collector import bucket_quantile

    before = {0.001: 10.0, 0.01: 10.0, 0.1: 10.0, math.inf: 10.0}
    after = {0.001: 10.0, 0.01: 100.0, 0.1: 109.0, math.inf: 110.0}
    assert bucket_quantile(before, after, 0.5) == 0.01
    assert bucket_quantile(before, after, 0.99) == 0.1
    assert bucket_quantile(before, after, 0.995) == math.inf
    assert bucket_quantile(before, after, 0.9) == 0.01


def test_the_history_mix_has_a_tenth_of_heavy_leads_with_a_full_dedup_window() -> None:
    from collections import Counter

    from bench.history import HistoryMix, as_messages, lead_histories

    mix = HistoryMix(leads=50, heavy_share=0.1, heavy_events=130, light_events=3)
    chunks = list(lead_histories(mix, now=1_800_000_000.0))
    events = [event for chunk in chunks for event in chunk]
    per_lead = Counter(event.key for event in events)
    assert len(per_lead) == 50
    assert sorted(Counter(per_lead.values()).items()) == [(3, 45), (130, 5)]
    assert len(events) == mix.events == 5 * 130 + 45 * 3
    assert len({event.value["event_id"] for event in events}) == len(events)
    for lead in per_lead:
        times = [event.at for event in events if event.key == lead]
        assert times == sorted(times)
        assert 1_800_000_000.0 - times[0] <= 30 * 86400
    messages = [message for chunk in chunks for message in as_messages(chunk)]
    unpacked = [e for m in messages for e in m.value.get("events", [m.value])]
    assert sorted(e["event_id"] for e in unpacked) == sorted(e.value["event_id"] for e in events)
    assert all(e["lead_id"] == m.key for m in messages for e in m.value.get("events", [m.value]))
    assert len(messages) < len(events) / 3


ISSUE_16_TARGETS = 8


def _results(**parts: object) -> dict[str, object]:
    return {"config": {}, **parts}


def test_every_issue_16_target_is_listed_even_when_its_phase_did_not_run() -> None:
    from bench.targets import targets, verdict

    rows = targets(_results())
    assert len(rows) == ISSUE_16_TARGETS
    assert all(verdict(row).startswith("not judged (") for row in rows)


def _memory(store: str, leads: int, per_lead: float, complete: bool = True) -> dict[str, object]:
    return {
        "mode": "worker (via Kafka)", "store": store, "leads": leads, "complete": complete,
        "rss_per_lead_bytes": per_lead, "disk_per_lead_bytes": 900.0 if store == "rocksdb" else None,
        "events_scored": 1000, "mix": {"events": 15_500_000},
    }  # fmt: skip


def _recovery(
    leads: int, ready_s: float | None, scored_s: float | None, populated: int = 0
) -> dict[str, object]:
    return {"store": "rocksdb", "from": "changelog", "leads": leads, "ready_s": ready_s,
            "scored_s": scored_s, "leads_populated": populated or leads}  # fmt: skip


def test_memory_and_recovery_are_judged_only_at_a_million_leads() -> None:
    from bench.targets import targets, verdict

    rows = targets(_results(
        memory=[_memory("memory", 1_000_000, 2100.0), _memory("rocksdb", 1_000_000, 1500.0)],
        recovery=[_recovery(1_000_000, 40.0, 42.5)],
    ))  # fmt: skip
    verdicts = {row["target"].split("(")[-1]: verdict(row) for row in rows[5:]}
    assert verdicts == {
        "memory store, worker)": "missed (1.0x over)",
        "rocksdb store, worker)": "met",
        "RocksDB store)": "met",
    }
    assert rows[7]["measured"] == "42.5 s for 1,000,000 leads"
    small = targets(_results(
        memory=[_memory("memory", 2_000, 900.0), _memory("rocksdb", 1_000_000, 900.0, False)],
        recovery=[_recovery(1_000_000, 30.0, None)],
    ))  # fmt: skip
    assert verdict(small[5]) == "not judged (measured at 2,000 leads)"
    assert (
        verdict(small[6]) == "not judged (the worker scored 1,000 of 15,500,000 events in the cap)"
    )
    assert verdict(small[7]) == "missed (not ready within the cap)"
    lost = targets(_results(recovery=[_recovery(999_000, 30.0, 31.0, populated=1_000_000)]))
    assert verdict(lost[7]) == "missed (recovered 999,000 of 1,000,000 leads)"


def test_lag_is_judged_flat_only_after_60_s_at_10k_events_per_s() -> None:
    from bench.targets import targets, verdict

    def run(seconds: float, trend: float, late_s: float = 0.2) -> dict[str, object]:
        lag = {"end_of_load": 500.0, "slope_second_half_per_s": trend}
        return {"rate": 10_000.0, "duration_s": seconds, "lag": lag, "event_to_alert_s": {},
                "generator_late_s": {"p99": late_s}}  # fmt: skip

    def lag_verdict(latency: dict[str, object]) -> str:
        return verdict(targets(_results(latency=[latency]))[4])

    assert lag_verdict(run(60, 150.0)) == "met"
    assert lag_verdict(run(60, 250.0)) == "missed (lag grows)"
    assert lag_verdict(run(30, 0.0)) == "not judged (ran 30 s)"
    assert lag_verdict(run(60, 0.0, late_s=2.5)) == (
        "not judged (the load generator fell behind, p99 2.5 s late)"
    )


def test_the_readme_section_is_replaced_between_its_markers() -> None:
    import pytest

    from bench.common import REPO
    from bench.readme import END, START, one_level_down, with_run

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == 1
    assert readme.count(END) == 1
    text = f"before\n{START}\nold run\n{END}\nafter\n"
    assert with_run(text, "#### new run\n") == f"before\n{START}\n\n#### new run\n\n{END}\nafter\n"
    with pytest.raises(ValueError, match="needs exactly one"):
        with_run("no markers", "run")
    assert one_level_down("### Targets\n\n| a | b |\n") == "#### Targets\n\n| a | b |\n"
