"""The targets the benchmark reports (not asserts): each with what was measured and a verdict."""

from __future__ import annotations

import math
from typing import Any

from bench.formats import kb as _bytes
from bench.formats import ms as _ms
from bench.systems import CORE_OFFLINE, FAUST_BARE, PEER, QUIX, SCORER, SCORER_ENVELOPES

TARGET_PEER_RATIO = 4.0
TARGET_RATE = 12_000.0
TARGET_ALERT_RATE = 1_000.0
TARGET_ALERT_P99_S = 0.100
TARGET_FLAT_RATE = 10_000.0
TARGET_FLAT_SECONDS = 60.0
FLAT_SLOPE_SHARE = 0.02  # lag "flat": its 2nd-half trend below 2% of the offered rate
GENERATOR_LATE_LIMIT_S = 1.0  # a load generator later than this (p99) did not offer the rate
TARGET_BYTES_PER_LEAD = 2048.0
TARGET_LEADS = 1_000_000
TARGET_RECOVERY_S = 60.0


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what was measured and its verdict: met, missed (by how much), or
    not judged (why: its phase did not run, or ran below the target's size).

    Every issue-16 target is listed whatever ran, so a partial run shows what it left out.
    """
    rows: list[dict[str, Any]] = []
    rows += _throughput_rows(results.get("throughput_summary"))
    rows += _latency_rows(results.get("latency") or [])
    rows += _memory_rows(results.get("memory") or [])
    rows += _recovery_rows(results.get("recovery") or [])
    rows += _other_rows(results)
    return rows


def _throughput_rows(summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    systems = (summary or {}).get("systems", {})
    ratios = (summary or {}).get("ratios", {})
    rows = []
    # What bounds each target in the same run: a Faust agent doing nothing per message
    # (single events) and the core alone without a broker (envelopes carry many events
    # per message, so the core's cost per event is what is left).
    bare = _bound(systems, FAUST_BARE, "a Faust agent that only counts")
    core = _bound(systems, CORE_OFFLINE, "the core alone")
    what = "scorer on single-event messages ≥ 12,000 events/s per worker"
    if SCORER in systems:
        rate = systems[SCORER]["median"]
        rows.append(_row(
            what, f"{rate:,.0f}/s", rate >= TARGET_RATE,
            f"{TARGET_RATE / rate:.1f}x short{bare}{core}" if rate else "",
        ))  # fmt: skip
    else:
        rows.append(_not_judged(what, "throughput phase without the scorer"))
    what = "scorer on single-event messages ≥ 4x the naive Faust agent of the same run"
    ratio = ratios.get(f"{SCORER}/{PEER}")
    if ratio:
        rows.append(_row(
            what, f"{ratio['median']:.2f}x", ratio["median"] >= TARGET_PEER_RATIO,
            f"{TARGET_PEER_RATIO / ratio['median']:.1f}x short" if ratio["median"] else "",
        ))  # fmt: skip
    else:
        rows.append(_not_judged(what, "throughput phase without scorer and peer"))
    what = "scorer on partition envelopes ≥ the Quix Streams naive stateful app of the same run"
    ratio = ratios.get(f"{SCORER_ENVELOPES}/{QUIX}")
    if ratio:
        rates = (
            f"{systems[SCORER_ENVELOPES]['median']:,.0f}/s vs {systems[QUIX]['median']:,.0f}/s, "
        )
        rows.append(_row(
            what, f"{rates}{ratio['median']:.2f}x", ratio["median"] >= 1.0,
            f"{1 / ratio['median']:.1f}x short{core}" if ratio["median"] else "",
        ))  # fmt: skip
    else:
        rows.append(_not_judged(what, "throughput phase without scorer-envelopes and quix"))
    return rows


def _latency_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    what = "p99 event → MQL alert ≤ 100 ms at 1,000 events/s"
    alert_runs = [r for r in runs if r["rate"] == TARGET_ALERT_RATE]
    mql = alert_runs[0]["event_to_alert_s"].get("mql") if alert_runs else None
    if mql:
        p99 = mql["p99"]
        rows.append(_row(
            what, _ms(p99), p99 <= TARGET_ALERT_P99_S,
            "alerts not seen" if math.isinf(p99) else f"{p99 / TARGET_ALERT_P99_S:.1f}x over",
        ))  # fmt: skip
    else:
        rows.append(_not_judged(what, "no latency run at 1,000 events/s with an MQL alert"))
    what = "lag flat at 10,000 events/s for 60 s"
    flat_runs = [r for r in runs if r["rate"] == TARGET_FLAT_RATE]
    if not flat_runs:
        rows.append(_not_judged(what, "no latency run at 10,000 events/s"))
    else:
        run = flat_runs[0]
        lag = run["lag"]
        trend = lag["slope_second_half_per_s"]
        measured = (
            f"lag {lag['end_of_load']:,.0f} events at the end of {run['duration_s']:g} s of "
            f"load, {trend:+,.0f} events/s in the 2nd half"
        )
        late = (run.get("generator_late_s") or {}).get("p99") or 0.0
        if run["duration_s"] < TARGET_FLAT_SECONDS:
            rows.append(_not_judged(what, f"ran {run['duration_s']:g} s", measured))
        elif late > GENERATOR_LATE_LIMIT_S:
            why = f"the load generator fell behind, p99 {late:.1f} s late"
            rows.append(_not_judged(what, why, measured))
        else:
            flat = trend <= FLAT_SLOPE_SHARE * run["rate"]
            rows.append(_row(what, measured, flat, "lag grows"))
    return rows


def _memory_rows(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for store in ("memory", "rocksdb"):
        runs = [m for m in measured if m["store"] == store and m["mode"].startswith("worker")]
        method = "preloaded changelogs" if any("preloaded" in m["mode"] for m in runs) else ""
        what = (
            f"≤ 2 KB RSS per tracked lead at 1M leads, realistic history mix ({store} store, "
            f"worker{' on ' + method if method else ''})"
        )
        if not runs:
            rows.append(_not_judged(what, "memory phase not run for this store"))
            continue
        run = max(runs, key=lambda m: m["leads"])
        per_lead = run["rss_per_lead_bytes"]
        value = f"{_bytes(per_lead)} at {run['leads']:,} leads"
        if run.get("disk_per_lead_bytes"):
            value += f" (disk {_bytes(run['disk_per_lead_bytes'])} per lead)"
        if not run.get("complete", True) and "preloaded" in run["mode"]:
            why = f"the recovered worker scored {run['events_scored']:,.0f} of "
            why += f"{run['touched_leads']:,} fresh events in the cap"
            rows.append(_not_judged(what, why, value))
        elif not run.get("complete", True):
            scored = f"{run['events_scored']:,.0f} of {run['mix']['events']:,}"
            rows.append(_not_judged(what, f"the worker scored {scored} events in the cap", value))
        elif run["leads"] < TARGET_LEADS:
            rows.append(_not_judged(what, f"measured at {run['leads']:,} leads", value))
        else:
            rows.append(_row(
                what, value, per_lead <= TARGET_BYTES_PER_LEAD,
                f"{per_lead / TARGET_BYTES_PER_LEAD:.1f}x over",
            ))  # fmt: skip
    return rows


def _recovery_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    what = "worker restarted on 1M leads' changelogs ready ≤ 60 s (RocksDB store)"
    found = [r for r in runs if r["store"] == "rocksdb" and r["from"] == "changelog"]
    if not found:
        return [_not_judged(what, "recovery phase not run for the RocksDB store")]
    run = found[0]
    seconds = recovery_seconds(run)
    populated = run.get("leads_populated", run["leads"])
    value = f"{_seconds(seconds)} for {run['leads']:,} leads"
    if populated < TARGET_LEADS:
        return [_not_judged(what, f"measured at {populated:,} leads", value)]
    if run["leads"] < populated:
        return [_row(what, value, False, f"recovered {run['leads']:,} of {populated:,} leads")]
    met = seconds is not None and seconds <= TARGET_RECOVERY_S
    over = (
        "not ready within the cap"
        if seconds is None
        else f"{seconds / TARGET_RECOVERY_S:.1f}x over"
    )
    return [_row(what, value, met, over)]


def recovery_seconds(run: dict[str, Any]) -> float | None:
    """Ready = `/ready` answered 200 and the first new event of every partition is scored."""
    if run["ready_s"] is None or run["scored_s"] is None:
        return None
    return float(max(run["ready_s"], run["scored_s"]))


def _seconds(value: float | None) -> str:
    return "not ready" if value is None else f"{value:,.1f} s"


def _other_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Targets of other issues measured by the same command (collector, identity)."""
    rows: list[dict[str, Any]] = []
    collector = results.get("collector")
    if collector:
        from bench.collector import TARGET_EVENTS_PER_S, TARGET_P99_S

        runs = [("one event per request", collector["throughput"])]
        if collector.get("batched"):
            runs.append((f"{collector['batched']['events_per_request']} events per request",
                         collector["batched"]))  # fmt: skip
        for how, run in runs:
            rate = run["events_per_s"]
            rows.append(_row(
                f"collector ≥ {TARGET_EVENTS_PER_S:,} accepted events/s per process ({how})",
                f"{rate:,.0f}/s", rate >= TARGET_EVENTS_PER_S,
                f"{TARGET_EVENTS_PER_S / rate:.1f}x short" if rate else "",
            ))  # fmt: skip
        latency = collector["latency"]
        p99 = latency["latency_s"]["p99"]
        rows.append(_row(
            f"collector p99 ≤ 25 ms at {latency['rate']:,.0f} req/s", _ms(p99),
            p99 <= TARGET_P99_S,
            "requests not answered" if math.isinf(p99) else f"{p99 / TARGET_P99_S:.1f}x over",
        ))  # fmt: skip
    soak = results.get("identity")
    if soak:
        from bench.identity_soak import flat

        steady, growth = flat(soak)
        last = soak["curve"][-1]
        rows.append(_row(
            f"memory flat over {soak['visitors']:,} one-visit anonymous visitors",
            f"{last['tracked']:,} tracked, +{last['rss_mb']:.1f} MB RSS, {growth:+.1f} MB "
            "after the look-back", steady, "memory grows",
        ))  # fmt: skip
    return rows


def _bound(systems: dict[str, Any], system: str, what: str) -> str:
    if system not in systems:
        return ""
    return f"; {what}: {systems[system]['median']:,.0f}/s"


def _row(target: str, measured: str, met: bool, shortfall: str) -> dict[str, Any]:
    return {
        "target": target,
        "measured": measured,
        "met": met,
        "shortfall": "" if met else shortfall,
    }


def _not_judged(target: str, why: str, measured: str = "-") -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": None, "shortfall": "", "why": why}


def verdict(row: dict[str, Any]) -> str:
    if row["met"] is None:
        return f"not judged ({row['why']})"
    return "met" if row["met"] else f"missed ({row['shortfall']})"
