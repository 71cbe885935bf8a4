"""Memory per tracked lead, in-process: RSS (and, for RocksDB, disk) of the lead-state table.

An estimate beside the real measurement (a worker scoring the input from Kafka, see
bench/worker_state.py), on the same history mix (bench/history.py) and the real core, in
a fresh child process per measurement (`python -m bench.memory`): the table state built
as the worker's store held it when this was written — the memory store keeps the live
`LeadState` objects in a dict keyed by the lead id's bytes; the RocksDB store keeps the
record codec's bytes (orjson of `to_record()`), one database per partition, opened with
Faust's own `RocksDBOptions`. RSS is measured before and after, so the interpreter, rules
and the simulator's population are not counted. It does not follow later changes of the
worker's table values (e.g. compact bytes); the worker measurement does.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import child_env, python_module, rss_bytes
from bench.history import (
    HEAVY_EVENTS,
    HEAVY_SHARE,
    LIGHT_EVENTS,
    HistoryMix,
    lead_histories,
    population_of,
)


def measure_in_process(
    mix: HistoryMix, store: str, directory: Path, partitions: int = 4
) -> dict[str, Any]:
    from scorer.contracts.events import parse_event
    from scorer.core.lead import apply_event
    from scorer.core.lead_state import LeadState
    from scorer.rules import load_rules
    from scorer.settings import DEFAULT_RULES_FILE
    from scorer.stream.partitioning import owner_partition

    rules = load_rules(DEFAULT_RULES_FILE)
    now = time.time()
    databases: list[Any] = []
    if store == "rocksdb":
        from faust.stores.rocksdb import RocksDBOptions

        options = RocksDBOptions()
        databases = [options.open(directory / f"lead-state-{p}.db") for p in range(partitions)]
    table: dict[bytes, LeadState] = {}
    population = population_of(mix)
    gc.collect()
    before = rss_bytes(os.getpid())
    started = time.perf_counter()
    for chunk in lead_histories(mix, now, population):
        states: dict[bytes, LeadState] = {}
        for event in chunk:
            parsed = parse_event(orjson.dumps(event.value))
            key = parsed.lead_id.encode()
            update = apply_event(states.get(key), parsed, rules, now)
            states[key] = update.state
        if store == "memory":
            table.update(states)
        else:
            for key, state in states.items():
                database = databases[owner_partition(key, partitions)]
                database[key] = orjson.dumps(state.to_record())
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_bytes(os.getpid())
    disk = 0
    if databases:
        for database in databases:
            database.flush()
        disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    tracked = len(table) if store == "memory" else mix.leads
    return {
        "mode": "in-process",
        "store": store,
        "leads": tracked,
        "mix": mix.describe(),
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "rss_per_lead_bytes": (after - before) / tracked,
        "disk_per_lead_bytes": disk / tracked if disk else None,
        "build_seconds": seconds,
    }


def run_in_process(mix: HistoryMix, store: str, timeout_s: float = 3600) -> dict[str, Any]:
    """One measurement in a fresh child process (its own RSS, nothing left over)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        done = subprocess.run(
            python_module(
                "bench.memory", "--leads", str(mix.leads), "--heavy-share", str(mix.heavy_share),
                "--heavy-events", str(mix.heavy_events), "--light-events",
                str(mix.light_events), "--store", store, "--dir", tmp,
            ),
            env=child_env(), capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, required=True)
    parser.add_argument("--heavy-share", type=float, default=HEAVY_SHARE)
    parser.add_argument("--heavy-events", type=int, default=HEAVY_EVENTS)
    parser.add_argument("--light-events", type=int, default=LIGHT_EVENTS)
    parser.add_argument("--store", choices=["memory", "rocksdb"], default="memory")
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    mix = HistoryMix(args.leads, args.heavy_share, args.heavy_events, args.light_events)
    result = measure_in_process(mix, args.store, args.dir)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
