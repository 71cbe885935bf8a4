"""The targets the benchmark reports (not asserts): each with what was measured and a verdict."""

from __future__ import annotations

import math
from typing import Any

from bench.formats import kb as _bytes
from bench.formats import ms as _ms
from bench.systems import PEER, QUIX, SCORER, SCORER_ENVELOPES

TARGET_PEER_RATIO = 4.0
TARGET_RATE = 12_000.0
TARGET_ALERT_P99_S = 0.100
TARGET_BYTES_PER_LEAD = 2048.0


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what was measured, met or missed, and by how much."""
    rows: list[dict[str, Any]] = []
    throughput = results.get("throughput_summary")
    if throughput and SCORER in throughput["systems"]:
        ratio = throughput["ratios"].get(f"scorer/{PEER}")
        if ratio:
            rows.append(_row(
                "scorer ≥ 4x the naive Faust agent", f"{ratio['median']:.2f}x",
                ratio["median"] >= TARGET_PEER_RATIO,
                f"{TARGET_PEER_RATIO / ratio['median']:.1f}x short" if ratio["median"] else "",
            ))  # fmt: skip
        rate = throughput["systems"][SCORER]["median"]
        rows.append(_row(
            "scorer ≥ 12k events/s per worker", f"{rate:,.0f}/s", rate >= TARGET_RATE,
            f"{TARGET_RATE / rate:.1f}x short" if rate else "",
        ))  # fmt: skip
    envelopes = (throughput or {}).get("ratios", {}).get(f"{SCORER_ENVELOPES}/{QUIX}")
    if envelopes:
        rows.append(_row(
            "scorer on envelopes ≥ the Quix Streams naive app", f"{envelopes['median']:.2f}x",
            envelopes["median"] >= 1.0,
            f"{1 / envelopes['median']:.1f}x short" if envelopes["median"] else "",
        ))  # fmt: skip
    for run in results.get("latency", []):
        mql = run["event_to_alert_s"].get("mql")
        if run["rate"] == 1000 and mql:
            p99 = mql["p99"]
            rows.append(_row(
                "p99 event → alert ≤ 100 ms at 1k events/s", _ms(p99),
                p99 <= TARGET_ALERT_P99_S, f"{p99 / TARGET_ALERT_P99_S:.0f}x over",
            ))  # fmt: skip
        if run["rate"] == 5000:
            lag = run["lag"]
            growing = lag["slope_second_half_per_s"] > 0.02 * run["rate"]
            rows.append(_row(
                "no growing lag at 5k events/s",
                f"lag {lag['end_of_load']:,.0f} events at the end of load, "
                f"{lag['slope_second_half_per_s']:+,.0f} events/s",
                not growing, "lag grows",
            ))  # fmt: skip
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
    for memory in results.get("memory", []):
        if memory["store"] == "memory":
            per_lead = memory["rss_per_lead_bytes"]
            rows.append(_row(
                f"≤ 2 KB RSS per tracked lead (memory store, {memory['leads']:,} leads)",
                _bytes(per_lead), per_lead <= TARGET_BYTES_PER_LEAD,
                f"{per_lead / TARGET_BYTES_PER_LEAD:.1f}x over",
            ))  # fmt: skip
    return rows


def _row(target: str, measured: str, met: bool, shortfall: str) -> dict[str, Any]:
    return {
        "target": target,
        "measured": measured,
        "met": met,
        "shortfall": "" if met else shortfall,
    }
