"""Memory per tracked lead: RSS (and, for RocksDB, disk) of the lead-state table.

Two ways, both with the real core and the simulator's leads (each lead gets its profile
and one background event, re-addressed to it):

- in-process (`python -m bench.memory`, a fresh child process per measurement): the
  table state built exactly as a worker's store holds it — the memory store keeps the
  live `LeadState` objects in a dict keyed by the lead id's bytes; the RocksDB store keeps
  the changelog codec's bytes (orjson of `to_record()`), one database per partition,
  opened with Faust's own `RocksDBOptions`. RSS is measured before and after, so the
  interpreter, rules and the simulator's population are not counted.
- via a worker (`worker_memory`): a real worker's RSS at ready and after it has scored
  the same events from Kafka, divided by its `scorer_leads_tracked` (which also counts
  what else grows with leads: the account table, read-model staging, client buffers).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.common import child_env, python_module, rss_bytes
from scorer.simulator import Population, SimEvent

CHUNK = 10_000


def lead_events(population: Population, at: float) -> Iterator[list[SimEvent]]:
    """Chunks of leads' events: each lead's profile, then one background event for it."""
    profiles = population.profiles(at)
    while True:
        chunk = [profile for _, profile in zip(range(CHUNK), profiles, strict=False)]
        if not chunk:
            return
        events = list(chunk)
        for index, profile in enumerate(chunk):
            casual = population.background(at + 1 + index * 1e-4)
            lead = profile.key
            value = {**casual.value, "lead_id": lead, "account_id": population.account_of[lead]}
            events.append(SimEvent(casual.topic, lead, value, casual.at))
        yield events


def _sample_population(leads: int, seed: int) -> Population:
    return Population(leads=leads, accounts=max(1, leads // 10), seed=seed)


def measure_in_process(
    leads: int, store: str, directory: Path, partitions: int = 4
) -> dict[str, Any]:
    from scorer.contracts.events import parse_event
    from scorer.core.lead import apply_event
    from scorer.core.lead_state import LeadState
    from scorer.rules import load_rules
    from scorer.settings import DEFAULT_RULES_FILE
    from scorer.stream.partitioning import owner_partition

    rules = load_rules(DEFAULT_RULES_FILE)
    population = _sample_population(leads, seed=5)
    now = time.time()
    databases: list[Any] = []
    if store == "rocksdb":
        from faust.stores.rocksdb import RocksDBOptions

        options = RocksDBOptions()
        databases = [options.open(directory / f"lead-state-{p}.db") for p in range(partitions)]
    table: dict[bytes, LeadState] = {}
    gc.collect()
    before = rss_bytes(os.getpid())
    started = time.perf_counter()
    for chunk in lead_events(population, now - 3600):
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
    tracked = len(table) if store == "memory" else leads
    return {
        "mode": "in-process",
        "store": store,
        "leads": tracked,
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "rss_per_lead_bytes": (after - before) / tracked,
        "disk_per_lead_bytes": disk / tracked if disk else None,
        "build_seconds": seconds,
    }


def run_in_process(leads: int, store: str, timeout_s: float = 900) -> dict[str, Any]:
    """One measurement in a fresh child process (its own RSS, nothing left over)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        done = subprocess.run(
            python_module("bench.memory", "--leads", str(leads), "--store", store, "--dir", tmp),
            env=child_env(), capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def worker_memory(
    stack: Any, workdir: Path, leads: int, store: str, partitions: int = 4
) -> dict[str, Any]:
    """A real worker's RSS before and after scoring `leads` leads' events from Kafka."""
    from bench.systems import BenchWorker, Target, scorer_settings
    from bench.workload import produce_sync
    from scorer.stream.admin import apply_topics

    target = Target(stack.kafka_bootstrap, stack.redis_url, partitions, "", 0, workdir, 0.0)
    tag = f"mem{store}{int(time.time() * 1000) % 10**7}"
    settings = scorer_settings(target, tag, store=f"{store}://")
    asyncio.run(apply_topics(settings))
    population = _sample_population(leads, seed=5)
    events = [event for chunk in lead_events(population, time.time() - 3600) for event in chunk]
    worker = BenchWorker(settings, workdir / f"{tag}.log", {})
    worker.start(timeout_s=120)
    try:
        before = rss_bytes(worker.pid)
        produce_sync(settings.kafka_bootstrap, settings.topic_prefix, events)
        deadline = time.monotonic() + 120 + len(events) / 200
        while worker.events_handled() < len(events):
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(f"the worker did not score {len(events)} events in time")
            time.sleep(0.5)
        deadline = time.monotonic() + 15  # scorer_leads_tracked is refreshed every 5 s
        while worker.metric("scorer_leads_tracked") < leads and time.monotonic() < deadline:
            time.sleep(0.5)
        tracked = int(worker.metric("scorer_leads_tracked"))
        after = rss_bytes(worker.pid)
    finally:
        worker.stop()
    disk = sum(f.stat().st_size for f in settings.data_dir.rglob("*") if f.is_file())
    return {
        "mode": "worker (via Kafka)",
        "store": store,
        "leads": tracked,
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "rss_per_lead_bytes": (after - before) / max(1, tracked),
        "disk_per_lead_bytes": disk / tracked if disk and tracked else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, required=True)
    parser.add_argument("--store", choices=["memory", "rocksdb"], default="memory")
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    result = measure_in_process(args.leads, args.store, args.dir)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
