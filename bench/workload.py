"""The benchmark's input: N simulated events, generated once and produced once.

The simulator (scorer.simulator) decides the mix: one profile per lead, buying journeys
for 5% of the leads, and background traffic (blog views, newsletter opens, ...) that
fills the rest. Its events are produced to one input topic set that every system reads.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from scorer.simulator import Population, SimEvent, envelopes, simulate

TRAFFIC_SPAN_S = 3600.0  # event times span the hour before the run

# The envelope input (system scorer-envelopes): each lead's events of one topic, up to 10
# per message, over the whole span. The workload's leads are sparse (a profile, then a
# few events each in an hour), so this gives ~1.6 events per message: the most a
# per-lead producer could batch here, not a typical rate.
ENVELOPE_MAX = 10
ENVELOPE_WINDOW_S = TRAFFIC_SPAN_S + 120


@dataclass(frozen=True, slots=True)
class Workload:
    events: int
    leads: int
    accounts: int
    seed: int = 7


def generate(workload: Workload, now: float | None = None) -> list[SimEvent]:
    """Exactly `workload.events` events in the simulator's order (profiles first)."""
    population = Population(workload.leads, workload.accounts, seed=workload.seed)
    background = workload.events - workload.leads - 10 * len(population.hot)
    if background < 0:
        raise ValueError(
            f"{workload.events} events are too few for {workload.leads} leads "
            f"(profiles and journeys alone take {workload.leads + 10 * len(population.hot)})"
        )
    start = (now or time.time()) - TRAFFIC_SPAN_S - 60
    rate = (background + 0.5) / TRAFFIC_SPAN_S
    events = list(simulate(population, start, TRAFFIC_SPAN_S, rate))[: workload.events]
    assert len(events) == workload.events, (len(events), workload.events)
    return events


def as_envelopes(events: list[SimEvent]) -> list[SimEvent]:
    """The same events in event-batch envelopes (lone events stay single)."""
    return list(envelopes(events, ENVELOPE_MAX, ENVELOPE_WINDOW_S))


def type_mix(events: list[SimEvent]) -> dict[str, int]:
    mix: dict[str, int] = {}
    for event in events:
        kind = str(event.value["type"])
        mix[kind] = mix.get(kind, 0) + 1
    return dict(sorted(mix.items(), key=lambda item: -item[1]))


async def produce(bootstrap: str, prefix: str, events: list[SimEvent]) -> float:
    """Produce keyed by lead id (murmur2, the scorer's partitioner), in big batches.

    Returns the seconds it took. Big batches are fine on Tansu: its wrong end offset
    after multi-record batches does not stop consumers from fetching every record.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for event in events:
            await producer.send(
                f"{prefix}{event.topic}", orjson.dumps(event.value), key=event.key.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


def produce_sync(bootstrap: str, prefix: str, events: list[SimEvent]) -> float:
    return asyncio.run(produce(bootstrap, prefix, events))
