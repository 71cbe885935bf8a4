"""What settings would buy: the scorer's events/s under variants, interleaved with a baseline.

    python -m bench.experiments --events 40000 --rounds 2 --run-seconds 15
    python -m bench.experiments --variants baseline,before --tree before=/tmp/old-tree

Every variant is the real worker with one change, set through bench.scorer_worker's hooks
or a SCORER_* setting; rounds interleave the variants so drift hits all equally.
`--tree NAME=DIR` adds a variant NAME that runs the worker from another source tree
(scorer/, topics/, bench/ of e.g. the code before a change): code changes are measured
interleaved with the current code, like settings. The "envelope input" variant reads the
same events in partition envelopes (bench.workload.as_envelopes), and so does a tree
variant whose NAME starts with "envelope" (e.g. `--tree "envelope before=/tmp/old-tree"`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.scorer_worker import with_shared_inputs
from bench.stats import median_min_max
from bench.systems import (
    SCORER,
    SCORER_ENVELOPES,
    SOURCE_TREE_HOOK,
    Target,
    run_scorer,
    scorer_settings,
)
from bench.workload import Workload, as_envelopes, generate, produce_sync
from scorer.devstack import DevStack

# name → (hooks for bench.scorer_worker, scorer setting overrides)
VARIANTS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "baseline": ({}, {}),
    "1-record batches": ({}, {"kafka_max_batch_bytes": 1}),
    "256 KB producer batches": ({}, {"kafka_max_batch_bytes": 262_144}),
    "uvloop": ({"BENCH_UVLOOP": "1"}, {}),
    "take_events 100": ({"BENCH_BATCH_EVENTS": "100"}, {}),
    "take_events 2000 / 100 ms": (
        {"BENCH_BATCH_EVENTS": "2000", "BENCH_BATCH_WITHIN_S": "0.1"},
        {},
    ),
    "Faust producer buffer 10k": ({"BENCH_PRODUCER_BUFFER": "10000"}, {}),
    "Redis flush every 1 s": ({}, {"redis_flush_interval_s": 1.0}),
    "stream buffer 16k + poll 2000": (
        {
            "BENCH_FAUST_OPTIONS": json.dumps(
                {"stream_buffer_maxsize": 16_384, "broker_max_poll_records": 2000}
            )
        },
        {},
    ),
    "Faust producer linger 20 ms": (
        {"BENCH_FAUST_OPTIONS": json.dumps({"producer_linger": 0.02})},
        {},
    ),
    "envelope input": ({}, {}),  # system scorer-envelopes, see SYSTEM_OF
}
SYSTEM_OF = {"envelope input": SCORER_ENVELOPES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--run-seconds", type=float, default=15.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--tree", action="append", default=[], metavar="NAME=DIR",
        help="add variant NAME: the worker from source tree DIR (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    for spec in args.tree:
        name, _, tree = spec.partition("=")
        VARIANTS[name] = ({SOURCE_TREE_HOOK: str(Path(tree).resolve())}, {})
        if name.startswith("envelope"):
            SYSTEM_OF[name] = SCORER_ENVELOPES
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    events = generate(Workload(args.events, args.events // 4, max(1, args.events // 40)))
    rates: dict[str, list[float]] = {name: [] for name in names}
    per_cpu: dict[str, list[float]] = {name: [] for name in names}  # worker CPU seconds
    # Worker CPU seconds until it settled after the run (work left behind counted).
    per_settled: dict[str, list[float]] = {name: [] for name in names}
    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        prefix = f"exp{int(time.time()) % 10**6}."
        target = Target(
            stack.kafka_bootstrap, stack.redis_url, 4, prefix, len(events), Path(tmp),
            args.run_seconds,
        )  # fmt: skip
        from scorer.stream.admin import apply_topics

        asyncio.run(apply_topics(with_shared_inputs(scorer_settings(target, "in"), prefix)))
        produce_sync(stack.kafka_bootstrap, prefix, events)
        if any(SYSTEM_OF.get(name) == SCORER_ENVELOPES for name in names):
            envelope_prefix = f"env{prefix}"
            asyncio.run(
                apply_topics(with_shared_inputs(scorer_settings(target, "in"), envelope_prefix))
            )
            messages = as_envelopes(events, target.partitions)
            produce_sync(stack.kafka_bootstrap, envelope_prefix, messages)
            target = replace(target, envelope_prefix=envelope_prefix)
            print(f"envelope input: {len(events):,} events in {len(messages):,} messages")
        for round_no in range(1, args.rounds + 1):
            for name in names:
                hooks, overrides = VARIANTS[name]
                tag = f"x{round_no}{names.index(name)}{int(time.time() * 1000) % 10**6}"
                system = SYSTEM_OF.get(name, SCORER)
                result = run_scorer(target, round_no, tag, system=system, hooks=hooks, **overrides)
                rates[name].append(result.rate)
                per_cpu[name].append(float(result.extra.get("events_per_cpu_s", 0.0)))
                per_settled[name].append(float(result.extra.get("events_per_settled_cpu_s", 0.0)))
                print(
                    f"round {round_no} {name:32} {result.rate:8,.0f} events/s, "
                    f"{per_cpu[name][-1]:8,.0f} per worker CPU s "
                    f"({per_settled[name][-1]:,.0f} until settled), "
                    f"RSS {float(result.extra.get('rss_end_mb', 0.0)):,.0f} MB at the end",
                    flush=True,
                )
    base = median_min_max(rates["baseline"])[0] if rates.get("baseline") else None
    lines = [
        "| variant | events/s (median) | min - max | vs baseline | events per worker CPU s "
        "(median) | min - max | until settled (median) | min - max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, values in rates.items():
        median, low, high = median_min_max(values)
        versus = f"{median / base:.2f}x" if base else "-"
        cpu_median, cpu_low, cpu_high = median_min_max(per_cpu[name])
        settled_median, settled_low, settled_high = median_min_max(per_settled[name])
        lines.append(
            f"| {name} | {median:,.0f} | {low:,.0f} - {high:,.0f} | {versus} "
            f"| {cpu_median:,.0f} | {cpu_low:,.0f} - {cpu_high:,.0f} "
            f"| {settled_median:,.0f} | {settled_low:,.0f} - {settled_high:,.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (args.out / f"experiments-{stamp}.md").write_text(
        f"{args.events:,} events, {args.rounds} interleaved rounds, runs capped at "
        f"{args.run_seconds:g} s\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
