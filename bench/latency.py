"""Latency under open-loop load: a constant-rate producer against one scorer worker.

Send times are scheduled (event i at t0 + i/rate) and each event's `occurred_at` is its
scheduled time, so a producer or broker that falls behind shows up as latency instead of
slowing the load down (no coordinated omission). Two latencies are measured:

- event → hand-off alert on the topic: part of the stream is buying journeys (a profile
  and the simulator's ten journey steps, half a second apart) that cross the MQL line;
  the alert names the event that crossed (`event_id`), whose scheduled time is known.
  Measured when this process receives the alert from the hand-off topic.
- event → score visible in Redis: every 50th event is a probe, the first event of a
  brand-new lead; the latency is the time until its read-model hash `lead:{id}` exists.

The rest is the simulator's background traffic over the same population. Consumer lag is
sampled every second: events produced minus events the worker has accounted for, and
the worker's own `scorer_consumer_lag_messages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from bench.stats import slope, summary
from bench.systems import BenchWorker, Target, scorer_settings
from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.settings import Settings
from scorer.simulator import Population, SimEvent

JOURNEY_SPACING_S = 0.5
EVENTS_PER_ALERT = 50  # one buying journey starts per this many events
PROBE_EVERY = 50
POLL_S = 0.005


@dataclass(frozen=True, slots=True)
class Planned:
    offset_s: float
    event: SimEvent
    probe: bool = False


def plan(rate: float, duration_s: float, seed: int = 11) -> list[Planned]:
    """The open-loop schedule: journeys, probes and background, one slot per 1/rate s."""
    total = int(rate * duration_s)
    journeys = max(1, total // EVENTS_PER_ALERT)
    population = Population(leads=max(1000, journeys * 10), accounts=max(100, journeys), seed=seed)
    hot = sorted(population.hot)[:journeys]
    profiles = {e.key: e for e in population.profiles(0.0) if e.key in population.hot}
    slots: list[tuple[SimEvent, bool] | None] = [None] * total
    step = max(1, round(JOURNEY_SPACING_S * rate))
    span = max(1, total - 11 * step)
    for index, lead in enumerate(hot):
        start = index * span // len(hot)
        for k, event in enumerate([profiles[lead], *population.journey(lead, 0.0, 0.0)]):
            slot = start + k * step
            while slot < total and slots[slot] is not None:
                slot += 1
            if slot < total:
                slots[slot] = (event, False)
    accounts = population.accounts
    probes = 0
    for wanted in range(PROBE_EVERY // 2, total, PROBE_EVERY):
        slot = next(
            (s for s in range(wanted, min(total, wanted + PROBE_EVERY)) if not slots[s]), -1
        )
        if slot >= 0:
            lead = f"probe-{seed}-{probes:07d}"
            probes += 1
            value = {
                "event_id": f"probe-ev-{seed}-{probes:07d}",
                "lead_id": lead,
                "account_id": accounts[probes % len(accounts)],
                "type": "web.page_view",
                "occurred_at": "",
                "url": "/products/product-a",
            }
            slots[slot] = (SimEvent(contract.WEB_EVENTS, lead, value, 0.0), True)
    return [
        Planned(i / rate, *(entry or (population.background(0.0), False)))
        for i, entry in enumerate(slots)
    ]


@dataclass(slots=True)
class _Run:
    settings: Settings
    worker: BenchWorker
    schedule: list[Planned]
    rate: float
    t0: float = 0.0
    produced: int = 0
    due: dict[str, float] = field(default_factory=dict)  # scheduled send time by event id
    lateness: list[float] = field(default_factory=list)  # generator: actual - scheduled
    pending_probes: dict[str, float] = field(default_factory=dict)  # Redis key → due
    probe_latency: list[float] = field(default_factory=list)
    alert_latency: dict[str, list[float]] = field(default_factory=dict)  # by alert kind
    emit_latency: list[float] = field(default_factory=list)  # event → worker publishes
    received: dict[tuple[str, str], float] = field(default_factory=dict)  # (event id, kind)
    lag: list[dict[str, float]] = field(default_factory=list)


async def _generate(run: _Run) -> None:
    settings = run.settings
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=1)
    await producer.start()
    probe_key = settings.redis_key_prefix + "lead:"
    try:
        index, total = 0, len(run.schedule)
        while index < total:
            now = time.time()
            while index < total and run.t0 + run.schedule[index].offset_s <= now:
                planned = run.schedule[index]
                due = run.t0 + planned.offset_s
                value = dict(planned.event.value)
                value["occurred_at"] = rfc3339(due)
                run.due[value["event_id"]] = due
                await producer.send(
                    settings.topic(planned.event.topic), orjson.dumps(value),
                    key=planned.event.key.encode(),
                )  # fmt: skip
                if planned.probe:
                    run.pending_probes[probe_key + planned.event.key] = due
                run.lateness.append(time.time() - due)
                run.produced += 1
                index += 1
            if index < total:
                await asyncio.sleep(max(0.0, run.t0 + run.schedule[index].offset_s - time.time()))
        await producer.flush()
    finally:
        await producer.stop()


async def _watch_alerts(run: _Run) -> None:
    consumer = AIOKafkaConsumer(
        run.settings.topic(contract.HANDOFF_ALERTS),
        bootstrap_servers=run.settings.kafka_bootstrap,
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )  # fmt: skip
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            received = time.time()
            for records in batch.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    due = run.due.get(str(alert.get("event_id")))
                    if due is None:
                        continue
                    kind = str(alert.get("kind"))
                    run.alert_latency.setdefault(kind, []).append(received - due)
                    run.received[(str(alert.get("event_id")), kind)] = received
                    emitted = _epoch(str(alert["emitted_at"]))
                    run.emit_latency.append(emitted - due)
    finally:
        await consumer.stop()


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


async def _watch_redis(run: _Run) -> None:
    client = Redis.from_url(run.settings.redis_url)
    try:
        while True:
            await asyncio.sleep(POLL_S)
            keys = list(run.pending_probes)[:500]
            if not keys:
                continue
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.exists(key)
            found = await pipe.execute()
            seen = time.time()
            for key, exists in zip(keys, found, strict=True):
                if exists:
                    run.probe_latency.append(seen - run.pending_probes.pop(key))
    finally:
        await client.aclose()


async def _sample_lag(run: _Run) -> None:
    while True:
        handled, worker_lag = await asyncio.to_thread(_worker_counts, run.worker)
        run.lag.append({
            "t": time.time() - run.t0,
            "produced": run.produced,
            "handled": handled,
            "lag": run.produced - handled,
            "worker_lag": worker_lag,
        })  # fmt: skip
        await asyncio.sleep(1.0)


def _worker_counts(worker: BenchWorker) -> tuple[float, float]:
    return worker.events_handled(), worker.metric("scorer_consumer_lag_messages")


async def _drive(run: _Run, drain_s: float) -> None:
    run.t0 = time.time() + 1.0
    tasks = [
        asyncio.create_task(_watch_alerts(run)),
        asyncio.create_task(_watch_redis(run)),
        asyncio.create_task(_sample_lag(run)),
    ]
    try:
        await _generate(run)
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            handled, _ = await asyncio.to_thread(_worker_counts, run.worker)
            if handled >= run.produced:
                await asyncio.sleep(1.0)  # the last Redis flush and alerts
                break
            await asyncio.sleep(0.25)
        for task in tasks:
            if task.done():
                task.result()  # surface a watcher's crash
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


def run_latency(
    target: Target,
    rate: float,
    duration_s: float,
    drain_s: float = 10.0,
    hooks: Mapping[str, str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Open-loop load at `rate` events/s for `duration_s` against a fresh scorer worker
    (`hooks`: bench/scorer_worker.py's BENCH_* variables; `overrides`: settings)."""
    tag = f"lat{int(rate)}x{int(time.time() * 1000) % 10**7}"
    settings = scorer_settings(target, tag, **overrides)
    trace = target.workdir / f"{tag}.alerts.jsonl"
    hooks = {**(hooks or {}), "BENCH_TRACE_ALERTS": str(trace)}
    from scorer.stream.admin import apply_topics

    asyncio.run(apply_topics(settings))
    schedule = plan(rate, duration_s)
    worker = BenchWorker(settings, target.workdir / f"{tag}.log", hooks)
    worker.start(timeout_s=120)
    run = _Run(settings, worker, schedule, rate)
    try:
        asyncio.run(_drive(run, drain_s))
    finally:
        worker.stop()
    report = _report(run, duration_s)
    report.update(alert_parts(run, trace))
    return report


def alert_parts(run: _Run, trace: Path) -> dict[str, Any]:
    """Split event → alert into its parts with the worker's trace (bench/alert_trace.py):
    due → fetched (producer, broker, fetch wait), fetched → in (Faust's consumer loop and
    the agent's queue), in → batch (the agent's batch), batch → publish (scoring the batch),
    publish → acked (hand-off round trip), acked → received (the watcher's fetch); the
    checkpoints' durations; the event loop's longest lag in each second."""
    if not trace.exists():
        return {}
    parts: dict[str, list[float]] = {
        "due_to_fetched": [], "fetched_to_in": [], "in_to_batch": [], "batch_to_publish": [],
        "publish_to_acked": [], "acked_to_received": [],
    }  # fmt: skip
    checkpoints: list[float] = []
    keys: list[float] = []
    loop_lag: list[float] = []
    for line in trace.read_bytes().splitlines():
        record = orjson.loads(line)
        if record["type"] == "loop":
            loop_lag.append(record["max_lag"])
            continue
        if record["type"] == "checkpoint":
            checkpoints.append(record["s"])
            keys.append(record["keys"])
            continue
        due = run.due.get(record["event_id"])
        received = run.received.get((record["event_id"], record["kind"]))
        if due is None or received is None or record["fetched"] is None:
            continue
        marks = [
            due,
            record["fetched"],
            record["in"],
            record["batch"],
            record["publish"],
            record["acked"],
            received,
        ]
        for name, start, end in zip(parts, marks, marks[1:], strict=False):
            parts[name].append(end - start)
    return {
        "event_to_alert_parts_s": {name: summary(values) for name, values in parts.items()},
        "checkpoint_s": summary(checkpoints),
        "checkpoint_keys": summary(keys),
        "loop_lag_max_per_s": summary(loop_lag),
    }


def _report(run: _Run, duration_s: float) -> dict[str, Any]:
    during = [s for s in run.lag if s["t"] <= duration_s]
    second_half = [(s["t"], s["lag"]) for s in during if s["t"] >= duration_s / 2]
    journeys = sum(1 for p in run.schedule if p.event.value["type"] == "web.form_submit")
    alerts = {kind: summary(values) for kind, values in sorted(run.alert_latency.items())}
    return {
        "rate": run.rate,
        "duration_s": duration_s,
        "produced": run.produced,
        "journeys": journeys,
        "generator_late_s": summary(run.lateness),
        "event_to_alert_s": alerts,
        "event_to_alert_emitted_s": summary(run.emit_latency),
        "event_to_redis_s": summary(run.probe_latency, censored=len(run.pending_probes)),
        "lag": {
            "end_of_load": during[-1]["lag"] if during else math.nan,
            "max": max((s["lag"] for s in run.lag), default=math.nan),
            "slope_second_half_per_s": slope(second_half),
            "worker_reported_end_of_load": during[-1]["worker_lag"] if during else math.nan,
        },
        "lag_series": run.lag,
    }
