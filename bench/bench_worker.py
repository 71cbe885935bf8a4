"""Events per second of one whole scorer worker on the embedded broker.

Pre-produces N simulated events, starts a worker, and times from the worker being ready
to every event being accounted for in `scorer_events_total`. The full side-by-side
comparison (naive Faust agent, raw client) is the benchmark issue's work; this is the
single-system number.

    .venv/bin/python bench/bench_worker.py --events 20000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scorer.devstack import DevStack
from scorer.simulator import Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import Servers, WorkerProcess, isolated_settings, produce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--batch-bytes", type=int, default=None, help="SCORER_KAFKA_MAX_BATCH_BYTES"
    )
    args = parser.parse_args()
    population = Population(leads=args.leads, accounts=args.leads // 10, seed=3)
    rate = args.events / 600
    events = list(simulate(population, time.time() - 700, duration_s=600, rate_per_s=rate))[
        : args.events
    ]
    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers = Servers(
            stack.kafka_bootstrap, stack.redis_url, "embedded", stack.client_overrides()
        )
        overrides = {} if args.batch_bytes is None else {"kafka_max_batch_bytes": args.batch_bytes}
        settings = isolated_settings(servers, Path(tmp), partitions=args.partitions, **overrides)
        asyncio.run(apply_topics(settings))
        started = time.perf_counter()
        asyncio.run(
            produce(settings, [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in events])
        )
        print(f"produced {len(events)} events in {time.perf_counter() - started:.1f} s")
        worker = WorkerProcess(settings, Path(tmp) / "worker.log").start()
        try:
            started = time.perf_counter()
            while worker.events_handled() < len(events):
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            worker.stop()
    rate = len(events) / elapsed
    print(f"worker scored {len(events)} events in {elapsed:.1f} s: {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
