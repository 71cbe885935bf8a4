"""Offline speed of `scorer calibrate` and `scorer backtest` on a simulated history.

    .venv/bin/python -m bench.calibrate [--leads 50000] [--seed 1]

Not a scripts/bench phase: those share an embedded broker and Redis, and this needs
neither. It simulates the history, then times every stage of calibrate (reading,
outcomes, features, model, the two replays of the back-test, the report), with wall
time and CPU time: the machine is shared, so CPU seconds are the per-core figure. The
targets (backtest >= 40,000 events/s per core; calibrate of 1M events / 50k leads
< 2 min) are reported, not asserted.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from scorer.calibrate.backtest import run_rules
from scorer.calibrate.commands import Options, calibrate
from scorer.calibrate.history import read_history
from scorer.calibrate.report import write_calibration_report
from scorer.rules import load_rules
from scorer.simulator_io import write_history

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def timed(name: str, rows: list[dict[str, Any]], call: Callable[[], T]) -> T:
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    rows.append({"stage": name, "wall_s": time.perf_counter() - wall,
                 "cpu_s": time.process_time() - cpu})  # fmt: skip
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as tmp:
        work = Path(tmp)
        history = work / "history.jsonl"
        events = timed("simulate (not part of calibrate)", rows,
                       lambda: write_history(history, args.leads, 12, args.seed))  # fmt: skip
        console = Console(quiet=True)
        result = timed(
            "calibrate (read, outcomes, features, model, 2 replays, write)", rows,
            lambda: calibrate(console, [history], ROOT / "rules" / "default.yaml",
                              work / "proposed.yaml", None, [], Options()),
        )  # fmt: skip
        timed("report", rows, lambda: write_calibration_report(work / "report", result))
        rules = load_rules(ROOT / "rules" / "default.yaml")
        every = timed("read the history again (backtest's read)", rows,
                      lambda: read_history(history).events)  # fmt: skip
        timed("backtest replay, rules/default.yaml, every event", rows,
              lambda: run_rules(every, rules, "rules/default.yaml"))  # fmt: skip
    print(f"history: {args.leads:,} leads, {events:,} events (seed {args.seed})")
    for row in rows:
        print(f"  {row['stage']:62} wall {row['wall_s']:7.1f} s   cpu {row['cpu_s']:7.1f} s")
    for stage, wall, cpu in result.timings.stages:
        print(f"    calibrate: {stage:58} wall {wall:7.1f} s   cpu {cpu:7.1f} s")
    replay = rows[-1]
    print(
        f"  backtest replay: {events / replay['cpu_s']:,.0f} events per CPU second"
        f" ({events / replay['wall_s']:,.0f} per wall second)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
