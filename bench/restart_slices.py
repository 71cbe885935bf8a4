"""What a restarted worker does before it scores, old way and sliced, on one partition.

    .venv/bin/python -m bench.restart_slices --leads 100000

One partition's lead table of `--leads` preloaded states (the benchmark's history mix,
bench/state_preload.py: a tenth heavy), in a state cache over a dict (the memory
store's shape), in one process, no broker: the due-timer index built the old way (every
state decoded in one go) and in slices (timer_index.py); the read-model copy the old
way (2,000 states decoded and staged per flush) and in slices (resync.py); and the key
count of a RocksDB database of as many keys, iterated and estimated. Reported: how long
each holds the event loop at most, and how long it takes in all.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import rocksdict
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from bench.history import HistoryMix
from bench.state_preload import replica, score_templates
from scorer.core.handoff_loop import next_due
from scorer.core.rules import Rules
from scorer.rules import load_rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream.codecs import ACCOUNT_CODEC, LEAD_CODEC, lead_next_due
from scorer.stream.gc_tuning import tune_for_worker
from scorer.stream.partitioning import owner_partition
from scorer.stream.resync import ReadModelResync
from scorer.stream.state_cache import StateCache
from scorer.stream.timer_index import TimerIndexBuilder
from scorer.stream.timers import DueIndex
from scorer.stream.views import staged_lead
from scorer.stream.workarounds.table_size import ESTIMATE_NUM_KEYS

OLD_CHUNK = 2000  # states per read-model flush before the slices


async def _longest_hold(work: Any, done: Any) -> tuple[float, float]:
    """(longest the loop was held, seconds until `done()`) while `work` runs."""
    longest = 0.0
    started = time.perf_counter()
    task = asyncio.ensure_future(work)
    while not (task.done() and done()):
        before = time.perf_counter()
        await asyncio.sleep(0)
        longest = max(longest, time.perf_counter() - before)
    await task
    return longest, time.perf_counter() - started


def _records(leads: int, distinct: int) -> dict[bytes, bytes]:
    rules = load_rules(DEFAULT_RULES_FILE)
    mix = HistoryMix(leads=leads * 4)
    templates = score_templates(HistoryMix(leads=distinct), rules, time.time())
    table: dict[bytes, bytes] = {}
    index = 0
    while len(table) < leads:
        lead = replica(templates.leads[index % distinct], index, mix)
        key = lead.state.lead_id.encode()
        if owner_partition(key, 4) == 0:
            table[key] = LEAD_CODEC.encode(lead.state)
        index += 1
    return table


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=2_000)
    args = parser.parse_args()
    rules = load_rules(DEFAULT_RULES_FILE)
    started = time.perf_counter()
    table = _records(args.leads, args.distinct)
    size = sum(len(v) for v in table.values()) / len(table)
    took = time.perf_counter() - started
    tune_for_worker()  # as the worker: what exists now is frozen, full collections rarer
    print(f"{len(table)} lead records of partition 0 ({size:.0f} B each) in {took:.0f} s")
    await _timer_index(table)
    _read_model_old(table, rules)
    await _read_model_sliced(table, rules)
    _key_count(table)


async def _timer_index(table: dict[bytes, bytes]) -> None:
    sample = list(table.values())[:5_000]
    t = time.perf_counter()
    decoded = [next_due(LEAD_CODEC.decode(v)) for v in sample]
    full = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    read = [lead_next_due(v) for v in sample]
    timers = (time.perf_counter() - t) / len(sample)
    assert decoded == read
    print(f"per record: full decode {full * 1e6:.0f} µs, timers only {timers * 1e6:.0f} µs")
    cache: StateCache[Any] = StateCache(table, LEAD_CODEC, 4)
    t = time.perf_counter()
    old = {k: d for k, s in cache.items({0}) if (d := next_due(s)) is not None}
    old_s = time.perf_counter() - t
    print(f"timer index, old: {len(old)} leads with timers, the loop held {old_s:.1f} s")
    builder = TimerIndexBuilder(
        index=DueIndex(), states=cache, due_of_value=lead_next_due, due_of_state=next_due
    )
    hold, took = await _longest_hold(
        asyncio.sleep(0, builder.advance(0)), lambda: builder.is_complete(0)
    )
    assert builder.index.pending() == len(old)
    print(f"timer index, sliced: the loop held at most {hold * 1e3:.0f} ms, built in {took:.1f} s")


def _read_model() -> RedisReadModel:
    # Never flushed: the staging is what is timed.
    return RedisReadModel(
        Redis.from_url("redis://127.0.0.1:1/0"), "m:", ScorerMetrics.create(CollectorRegistry())
    )


def _read_model_old(table: dict[bytes, bytes], rules: Rules) -> None:
    read_model = _read_model()
    t = time.perf_counter()
    for key in list(table)[:OLD_CHUNK]:
        state = LEAD_CODEC.decode(table[key])
        read_model.stage_lead(state.lead_id, staged_lead(state, rules, time.time(), True))
    old_flush = time.perf_counter() - t
    print(
        f"read-model copy, old: {OLD_CHUNK} states per flush held the loop {old_flush:.2f} s "
        f"(~{old_flush * len(table) / OLD_CHUNK:.0f} s of held loop for the partition)"
    )


async def _read_model_sliced(table: dict[bytes, bytes], rules: Rules) -> None:
    read_model = _read_model()
    cache: StateCache[Any] = StateCache(table, LEAD_CODEC, 4)
    resync = ReadModelResync(
        cache, StateCache({}, ACCOUNT_CODEC, 4), rules, read_model, 4, time.time
    )

    copied = 0

    async def copy() -> None:
        nonlocal copied
        copied += await resync.step({0})
        while resync.copying:
            # The worker flushes the staged views to Redis here (a new read model: what
            # a flush leaves) and waits for its timer.
            resync.read_model = _read_model()
            await asyncio.sleep(0)
            copied += await resync.step({0})

    hold, took = await _longest_hold(copy(), lambda: True)
    assert copied == len(table)
    print(
        f"read-model copy, sliced: the loop held at most {hold * 1e3:.0f} ms, all in {took:.0f} s"
    )


def _key_count(table: dict[bytes, bytes]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        db = rocksdict.Rdict(directory)
        for key, value in table.items():
            db[key] = value
        t = time.perf_counter()
        counted = sum(1 for _ in db.keys())  # noqa: SIM118 - an Rdict is not iterable
        iterated = time.perf_counter() - t
        t = time.perf_counter()
        estimate = db.property_int_value(ESTIMATE_NUM_KEYS)
        estimated = time.perf_counter() - t
        db.close()
    print(
        f"key count of a RocksDB database: iterated {counted} in {iterated * 1e3:.0f} ms, "
        f"estimate {estimate} in {estimated * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    asyncio.run(main())
