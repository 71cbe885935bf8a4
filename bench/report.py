"""Results: the summary numbers, the Markdown tables, the JSON file and the plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.formats import kb as _bytes
from bench.formats import ms as _ms
from bench.formats import per_s as _rate
from bench.machine import one_line
from bench.stats import median_min_max
from bench.systems import (
    CORE_OFFLINE,
    DESCRIPTIONS,
    FAUST_BARE,
    LIMIT,
    PEER,
    QUIX,
    SCORER,
    SCORER_ENVELOPES,
    RunResult,
)
from bench.targets import recovery_seconds, targets, verdict


def summarize_throughput(runs: Sequence[RunResult]) -> dict[str, Any]:
    systems: dict[str, Any] = {}
    for system in dict.fromkeys(r.system for r in runs):
        rates = [r.rate for r in runs if r.system == system]
        events = [r.events for r in runs if r.system == system]
        median, low, high = median_min_max(rates)
        systems[system] = {
            "median": median, "min": low, "max": high, "rates": rates,
            "events_min": min(events), "complete_runs": sum(
                1 for r in runs if r.system == system and r.complete
            ),
        }  # fmt: skip
    ratios: dict[str, Any] = {}
    pairs = [(SCORER, other) for other in (PEER, FAUST_BARE, QUIX, LIMIT)] + [
        (SCORER_ENVELOPES, QUIX),
        (SCORER_ENVELOPES, CORE_OFFLINE),
        (CORE_OFFLINE, QUIX),
    ]
    for system, other in pairs:
        per_round = [
            s.rate / o.rate
            for s in runs
            if s.system == system
            for o in runs
            if o.system == other and o.round == s.round and o.rate > 0
        ]
        if per_round:
            median, low, high = median_min_max(per_round)
            ratios[f"{system}/{other}"] = {"median": median, "min": low, "max": high}
    return {"systems": systems, "ratios": ratios}


def _batched_row(run: dict[str, Any]) -> str:
    requests = run["accepted"] // run["events_per_request"] + run["failed"]
    latency = run["latency_s"]
    return (
        f"| closed loop, {run['concurrency']} clients, {run['events_per_request']} events per "
        f"request, {run['seconds']:.0f} s | {requests:,} | {_rate(run['events_per_s'])} | "
        f"{_ms(latency['p50'])} / {_ms(latency['p99'])} / {_ms(latency['p99.9'])} | "
        f"{run['failed']:,} | - |"
    )


def _open_loop_notes(open_loop: dict[str, Any]) -> list[str]:
    """Where the open loop's latency went: the generator's own lag and the broker's acks."""
    notes = []
    if open_loop.get("generator_lag_s"):
        lag = open_loop["generator_lag_s"]
        notes.append(
            f"load generator lag (due time → request started) p50 {_ms(lag['p50'])}, "
            f"p99 {_ms(lag['p99'])}"
        )
    if open_loop.get("broker_ack_s"):
        acks = open_loop["broker_ack_s"]
        notes.append(
            f"broker ack (the collector's produce histogram) p50 ≤ {_ms(acks['p50_at_most'])}, "
            f"p99 ≤ {_ms(acks['p99_at_most'])}"
        )
    return [f"Open loop, parts of the latency: {'; '.join(notes)}.", ""] if notes else []


def _collector_lines(results: dict[str, Any]) -> list[str]:
    collector = results.get("collector")
    if not collector:
        return []
    closed, open_loop = collector["throughput"], collector["latency"]
    latency = open_loop["latency_s"]
    return [
        "### Collector: one `scorer collect` process, POST /v1/events answered after the "
        f"broker's acks (linger {collector['linger_ms']} ms, idempotent "
        f"{'on' if collector['idempotent'] else 'off'})",
        "",
        "| run | requests | accepted events/s | request p50 / p99 / p99.9 | failed | not sent |",
        "|---|---:|---:|---|---:|---:|",
        f"| closed loop, {closed['concurrency']} clients, {closed['seconds']:.0f} s | "
        f"{closed['accepted'] + closed['failed']:,} | {_rate(closed['events_per_s'])} | "
        f"{_ms(closed['latency_s']['p50'])} / {_ms(closed['latency_s']['p99'])} / "
        f"{_ms(closed['latency_s']['p99.9'])} | {closed['failed']:,} | - |",
        *([_batched_row(collector["batched"])] if collector.get("batched") else []),
        f"| open loop, {open_loop['rate']:,.0f} req/s, {open_loop['seconds']:.0f} s | "
        f"{open_loop['requests']:,} | - | {_ms(latency['p50'])} / {_ms(latency['p99'])} / "
        f"{_ms(latency['p99.9'])} | {open_loop['failed']:,} | {open_loop['not_sent']:,} |",
        "",
        *_open_loop_notes(open_loop),
        f"Collector CPU (of one core): {closed.get('collector_cpu_percent', math.nan):.0f}% in the "
        f"closed loop, {open_loop.get('collector_cpu_percent', math.nan):.0f}% in the open loop; "
        "machine load average (1 min) "
        f"{collector.get('load_average_1m', {}).get('before', math.nan):.1f} before, "
        f"{collector.get('load_average_1m', {}).get('after', math.nan):.1f} after.",
        "",
    ]


def _mix_line(mix: dict[str, Any]) -> str:
    return (
        f"{mix['leads']:,} leads, {mix['heavy_leads']:,} of them with {mix['heavy_events']} "
        f"events and the others with {mix['light_events']} ({mix['events']:,} events over "
        f"{mix['span_days']:g} days)"
    )


def _memory_lines(results: dict[str, Any]) -> list[str]:
    measured = results.get("memory") or []
    if not measured:
        return []
    lines = []
    for mode in dict.fromkeys(m["mode"] for m in measured):
        runs = [m for m in measured if m["mode"] == mode]
        preloaded = "preloaded" in mode
        if preloaded:
            how = (
                "a real worker recovered from preloaded changelogs: RSS after one fresh event "
                "for some of the leads minus RSS of the empty worker at ready"
            )
        elif mode.startswith("worker"):
            how = "a real worker, RSS after scoring the input minus RSS at ready"
        else:
            how = "in-process estimate, the table alone"
        mix = runs[0].get("mix")
        lines += [
            f"### Memory per tracked lead ({how})",
            "",
            *([f"History mix: {_mix_line(mix)}.", ""] if mix else []),
            *(_preload_lines(results) if preloaded else []),
            "| store | leads | events scored | RSS at start → after | RSS per lead "
            "| at ready | disk per lead |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for run in runs:
            scored = run.get("events_scored")
            scored_text = f"{scored:,.0f}" if scored is not None else "-"
            if run.get("complete") is False:
                scored_text += " (incomplete)"
            lines.append(
                f"| {run['store']} | {run['leads']:,} | {scored_text} | "
                f"{run['rss_before_mb']:,.0f} → {run['rss_after_mb']:,.0f} MB | "
                f"{_bytes(run['rss_per_lead_bytes'])} | "
                f"{_bytes(run.get('rss_at_ready_per_lead_bytes'))} | "
                f"{_bytes(run.get('disk_per_lead_bytes'))} |"
            )
        lines.append("")
    return lines


def _preload_lines(results: dict[str, Any]) -> list[str]:
    """How the preloaded changelogs were made (bench/state_preload.py)."""
    loads = (results.get("memory_input") or {}).get("loads") or []
    if not loads:
        return []
    load = loads[0]
    records = load["lead_records"] + load["account_records"]
    values = load["lead_value_bytes"] + load["account_value_bytes"]
    return [
        f"Method: preload. {load['distinct_histories']:,} distinct lead histories "
        f"({load['template_events']:,} events) scored by the core, replicated under every "
        f"lead's own ids and written as the worker's changelog records: "
        f"{load['lead_records']:,} lead and {load['account_records']:,} account records, "
        f"{_bytes(values / max(1, records))} per record on average "
        f"({'compressed' if load.get('compressed', True) else 'JSON'}), "
        f"{load['batch_records']} per producer batch, written in "
        f"{load['write_seconds']:,.0f} s per store. Timers due during the histories: "
        f"{load['timers_due']}.",
        "",
    ]


def _recovery_lines(results: dict[str, Any]) -> list[str]:
    runs = results.get("recovery") or []
    if not runs:
        return []
    lines = [
        "### Recovery: a worker restarted on the memory phase's changelogs",
        "",
        "Seconds from the process start; ready = `/ready` answers 200 (tables recovered, "
        "partitions assigned) and the first new event of every partition is scored "
        "(a new lead's probe hash is in Redis).",
        "",
        "| store | restarted with | leads recovered | /ready | probes scored | ready | RSS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    how = {"changelog": "an empty data directory", "local": "its data directory"}
    for run in runs:
        lines.append(
            f"| {run['store']} | {how.get(run['from'], run['from'])}"
            f"{', Faust recovery path' if run.get('path') == 'faust' else ''} | "
            f"{run['leads']:,} of "
            f"{run.get('leads_populated', run['leads']):,} | "
            f"{_opt_s(run['ready_s'])} | {_opt_s(run['scored_s'])} | "
            f"{_opt_s(recovery_seconds(run))} | {run['rss_mb']:,.0f} MB |"
        )
    lines.append("")
    return lines


def _opt_s(value: float | None) -> str:
    return "not within the cap" if value is None else f"{value:,.1f} s"


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    config = results["config"]
    summary = results.get("throughput_summary")
    if summary:
        workload = results["workload"]
        lines += [
            f"### Throughput: {workload['events']:,} events, {workload['leads']:,} leads in "
            f"{workload['accounts']:,} accounts, {config['rounds']} interleaved rounds "
            f"(runs capped at {config['run_seconds']:g} s)",
            "",
            "| system | events/s (median) | min - max | events read per run (min) | what |",
            "|---|---:|---:|---:|---|",
        ]
        for system, row in summary["systems"].items():
            lines.append(
                f"| {system} | {_rate(row['median'])} | {_rate(row['min'])} - {_rate(row['max'])} "
                f"| {row['events_min']:,} | {DESCRIPTIONS[system]} |"
            )
        lines.append("")
        for name, ratio in summary["ratios"].items():
            lines.append(
                f"- {name}: **{ratio['median']:.3g}x** (per-round min - max "
                f"{ratio['min']:.3g} - {ratio['max']:.3g})"
            )
        if workload.get("envelope_messages"):
            lines.append(
                f"- scorer-envelopes read the same events as {workload['envelope_messages']:,} "
                f"messages ({workload['events'] / workload['envelope_messages']:.2f} events per "
                "message); the headline ratios are the single-event scorer's"
            )
        lines.append("")
    if results.get("latency"):
        lines += [
            f"### Latency under open-loop load ({config['latency_seconds']:g} s per rate, "
            "one scorer worker"
            + "".join(
                f", {key} {value}"
                for key, value in config.get("latency_worker_settings", {}).items()
            )
            + ")",
            "",
            "| rate | event → MQL alert p50 / p99 / p99.9 | alerts | event → Redis p50 / p99 / "
            "p99.9 | probes not seen | lag at end of load | lag trend (2nd half) |",
            "|---:|---|---:|---|---:|---:|---:|",
        ]
        for run in results["latency"]:
            missing = {"p50": math.nan, "p99": math.nan, "p99.9": math.nan, "count": 0}
            mql = run["event_to_alert_s"].get("mql") or missing
            redis = run["event_to_redis_s"]
            lag = run["lag"]
            lines.append(
                f"| {run['rate']:,.0f}/s | {_ms(mql['p50'])} / {_ms(mql['p99'])} / "
                f"{_ms(mql['p99.9'])} | {mql['count']:,} | {_ms(redis['p50'])} / "
                f"{_ms(redis['p99'])} / {_ms(redis['p99.9'])} | {redis['not_seen']:,} of "
                f"{redis['count'] + redis['not_seen']:,} | {lag['end_of_load']:,.0f} events | "
                f"{lag['slope_second_half_per_s']:+,.0f} events/s |"
            )
        lines.append("")
    lines += _memory_lines(results)
    lines += _recovery_lines(results)
    lines += _collector_lines(results)
    rows = targets(results)
    if rows:
        lines += ["### Targets (reported, not asserted)", "", "| target | measured | verdict |",
                  "|---|---|---|"]  # fmt: skip
        for row in rows:
            lines.append(f"| {row['target']} | {row['measured']} | {verdict(row)} |")
        lines.append("")
    lines += [
        f"Machine: {one_line(results['machine'])}.  ",
        f"Date: {results['started_at']}, {results['wall_seconds']:.0f} s wall.  ",
        f"Command: `{results['command']}`",
        "",
    ]
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    json_path = out_dir / f"{stamp}.json"
    results = {**results, "targets": targets(results)}
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    md_path = out_dir / "latest.md"
    md_path.write_text(markdown(results), encoding="utf-8")
    return json_path, md_path


def plot(results: dict[str, Any], path: Path) -> Path | None:
    """Throughput bars and latency percentiles as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    summary = results.get("throughput_summary")
    latency = results.get("latency") or []
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    if summary:
        names = list(summary["systems"])
        medians = [summary["systems"][n]["median"] for n in names]
        errors = [
            [m - summary["systems"][n]["min"] for n, m in zip(names, medians, strict=True)],
            [summary["systems"][n]["max"] - m for n, m in zip(names, medians, strict=True)],
        ]
        left.bar(names, medians, yerr=errors, capsize=4, color="#4c72b0")
        left.set_yscale("log")
        left.set_ylabel("events/s (median, min-max; log scale)")
        left.set_title("Throughput, same events, interleaved rounds")
        for index, value in enumerate(medians):
            left.annotate(f"{value:,.0f}", (index, value), ha="center", va="bottom")
    labels: list[str] = []
    values: dict[str, list[float]] = {"p50": [], "p99": [], "p99.9": []}
    for run in latency:
        for what, stats in (("alert", run["event_to_alert_s"].get("mql")),
                            ("redis", run["event_to_redis_s"])):  # fmt: skip
            if not stats:
                continue
            labels.append(f"{what}\n{run['rate']:,.0f}/s")
            for key, column in values.items():
                value = stats[key]
                column.append(value * 1000 if math.isfinite(value) else math.nan)
    if labels:
        width = 0.27
        for offset, key in enumerate(values):
            xs = [i + (offset - 1) * width for i in range(len(labels))]
            right.bar(xs, values[key], width, label=key)
            for x, value in zip(xs, values[key], strict=True):
                if math.isnan(value):
                    right.annotate("not seen", (x, 100), rotation=90, ha="center", va="bottom")
        right.set_xticks(range(len(labels)), labels)
        right.set_yscale("log")
        right.set_ylabel("ms (log scale)")
        right.set_title("Event → alert on topic / score in Redis (open loop)")
        right.axhline(100, color="grey", linestyle="--", linewidth=1)
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
