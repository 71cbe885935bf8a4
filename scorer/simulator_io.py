"""Simulator outputs: a JSONL file, or real-time publishing to the input topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from scorer.settings import ConfigError, Settings
from scorer.simulator import Population, SimEvent, envelopes, partition_envelopes, simulate


def write_jsonl(
    path: Path, leads: int, accounts: int, rate: float, duration: float, seed: int,
    start: float = 1_780_000_000.0,
) -> int:  # fmt: skip
    events = simulate(Population(leads, accounts, seed=seed), start, duration, rate)
    count = 0
    with path.open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event.value) + b"\n")
            count += 1
    return count


def write_history(path: Path, leads: int, months: int, seed: int) -> int:
    """A year (or `months`) of events with sales outcomes, for calibrate and backtest."""
    from scorer.simulator_history import simulate_history

    count = 0
    with path.open("wb") as out:
        for event in simulate_history(leads, months, seed):
            out.write(orjson.dumps(event.value) + b"\n")
            count += 1
    return count


async def publish(settings: Settings, events: Iterable[SimEvent], *, real_time: bool = True) -> int:
    """Publish events keyed by lead id; in real time, each one at its event time."""
    from scorer.stream.admin import client_options

    producer = AIOKafkaProducer(
        **client_options(settings),
        linger_ms=5,
        acks="all",
        max_batch_size=settings.kafka_max_batch_bytes,  # 1 on the embedded broker, see there
    )
    await producer.start()
    count = 0
    try:
        for event in events:
            if real_time:
                delay = event.at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await producer.send(
                settings.topic(event.topic), orjson.dumps(event.value), key=event.key.encode()
            )
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


def publish_live(
    settings: Settings,
    leads: int,
    accounts: int,
    rate: float,
    duration: float,
    seed: int,
    *,
    envelope_max: int = 1,
    envelope_window: float = 0.0,
    by_partition: bool = False,
) -> int:
    """Publish in real time; with `envelope_max` > 1, one lead's events of one topic go in
    event-batch envelopes (see `scorer.simulator.envelopes`), or with `by_partition` the
    events of every lead of a partition (`partition_envelopes`). Returns messages sent."""
    from aiokafka.errors import KafkaError

    from scorer.stream.admin import check_broker_quietly

    check_broker_quietly(settings)  # an unreachable broker is one line, not a traceback
    population = Population(leads, accounts, seed=seed)
    events: Iterable[SimEvent] = simulate(population, time.time(), duration, rate)
    if envelope_max > 1 and by_partition:
        events = partition_envelopes(
            events, settings.partitions, envelope_max, envelope_window, settings.max_event_bytes
        )
    elif envelope_max > 1:
        events = envelopes(events, envelope_max, envelope_window)
    try:
        return asyncio.run(publish(settings, events))
    except (KafkaError, OSError) as exc:
        raise ConfigError(
            f"SCORER_KAFKA_BOOTSTRAP: lost Kafka at {settings.kafka_bootstrap} "
            f"({type(exc).__name__})"
        ) from None
