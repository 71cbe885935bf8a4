"""Latency variants interleaved on one embedded stack: the code before a change against
the code after it, or settings against each other, in the same window.

    python -m bench.latency_ab --variant new --variant old,tree=/tmp/old-tree \\
        --rate 1000 --seconds 20 --rounds 3
    python -m bench.latency_ab --variant fw100 --variant fw10,kafka_fetch_max_wait_ms=10

A variant is NAME[,tree=DIR][,SETTING=VALUE...]: `tree` runs the worker from another
source tree (bench/scorer_worker.py's BENCH_SOURCE_TREE; copy this tree's
bench/scorer_worker.py and bench/alert_trace.py into it to get the parts), SETTING a
scorer setting by its field name, or a bench.scorer_worker hook by its BENCH_* name.
Rounds run every variant once, in turn (A B A B …), each against a fresh worker, as
`scripts/bench --phases latency` does one (bench/latency.py). Prints each run and a
table of medians over rounds; the runs go to --out as JSON.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import RESULTS_DIR
from bench.latency import run_latency
from bench.systems import SOURCE_TREE_HOOK, Target
from scorer.devstack import DevStack


def _variant(spec: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    name, *pairs = spec.split(",")
    hooks: dict[str, str] = {}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key == "tree":
            hooks[SOURCE_TREE_HOOK] = str(Path(value).resolve())
        elif key.startswith("BENCH_"):
            hooks[key] = value  # a bench.scorer_worker hook, e.g. BENCH_BATCH_WITHIN_S
        else:
            overrides[key] = value
    return name, hooks, overrides


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def _line(name: str, run: dict[str, Any]) -> str:
    mql = run["event_to_alert_s"].get("mql") or {}
    parts = run.get("event_to_alert_parts_s") or {}
    split = " ".join(f"{p}={_ms(parts[p]['p50'])}/{_ms(parts[p]['p99'])}" for p in parts)
    cp = run.get("checkpoint_s") or {}
    lag = run.get("loop_lag_max_per_s") or {}
    return (
        f"{name}: mql p50/p99/p99.9 {_ms(mql.get('p50'))}/{_ms(mql.get('p99'))}/"
        f"{_ms(mql.get('p99.9'))} ms ({mql.get('count', 0)} alerts); lag end "
        f"{run['lag']['end_of_load']:,.0f}; parts p50/p99 ms: {split}; checkpoints "
        f"p50/max {_ms(cp.get('p50'))}/{_ms(cp.get('max'))} ms; loop lag, worst per second, "
        f"p50/p99 {_ms(lag.get('p50'))}/{_ms(lag.get('p99'))} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True, metavar="SPEC")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    variants = [_variant(spec) for spec in args.variant]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-lat-") as tmp, DevStack() as stack:
        from bench import systems

        systems.BROKER_SETTINGS.update(
            (k, v) for k, v in stack.client_overrides().items() if k != "kafka_max_batch_bytes"
        )
        target = Target(
            stack.kafka_bootstrap, stack.redis_url, args.partitions, "", 0, Path(tmp), 0.0
        )
        for round_no in range(args.rounds):
            for name, hooks, overrides in variants:
                run = run_latency(target, args.rate, args.seconds, 10.0, hooks, **overrides)
                run.pop("lag_series", None)
                runs.append({"variant": name, "round": round_no, **run})
                print(_line(f"round {round_no + 1} {name}", run), flush=True)
    print("\n| variant | mql p50 | p99 | p99.9 (median over rounds, ms) |")
    print("|---|---:|---:|---:|")
    for name, _, _ in variants:
        mine = [r["event_to_alert_s"].get("mql") or {} for r in runs if r["variant"] == name]
        cells = [
            _ms(statistics.median(m[q] for m in mine if m.get(q) is not None))
            for q in ("p50", "p99", "p99.9")
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"latency-ab-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_bytes(
        orjson.dumps({"args": vars(args) | {"out": str(args.out)}, "runs": runs}, default=str)
    )
    print(f"runs: {path}")


if __name__ == "__main__":
    main()
