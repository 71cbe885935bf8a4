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

from scorer.simulator import Population, SimEvent, partition_envelopes, simulate

TRAFFIC_SPAN_S = 3600.0  # event times span the hour before the run

# The envelope input (system scorer-envelopes): partition envelopes as the collector's
# linger makes them under load (scorer.collector.linger): the events of every lead a
# partition owns, per topic, in produce order, up to 100 per message and under the
# worker's 64 KB message limit. The workload's event times span an hour, so no time
# window applies: this is a backlog (catch-up after downtime, a spike) as a loaded
# collector leaves it, ~100 events per message.
ENVELOPE_MAX = 100
ENVELOPE_MAX_BYTES = 64 * 1024
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


def as_envelopes(events: list[SimEvent], partitions: int) -> list[SimEvent]:
    """The same events in partition envelopes (see ENVELOPE_MAX; lone events stay single)."""
    return list(
        partition_envelopes(events, partitions, ENVELOPE_MAX, ENVELOPE_WINDOW_S, ENVELOPE_MAX_BYTES)
    )


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
