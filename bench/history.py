"""The memory and recovery phases' input: leads with a realistic history mix.

Issue 16's memory target is judged on "a realistic history mix: a tenth of the leads
with ≥ 100 events, so the dedup window is full". Here a share of the leads (`heavy_share`,
default 0.1) has `heavy_events` events (default 128: at least 100, and enough to fill the
default event-id dedup window, `explain.recent_event_ids: 128`); the others have
`light_events` (default 3: a profile and two more). Every lead's first event is its
profile from the simulator; the rest is the simulator's background traffic (blog views,
newsletter opens, ...) re-addressed to the lead, spread evenly over the 30 days before
the run, in event-time order per lead.

Leads come in chunks, generated lazily (1M leads are ~15M events), and as messages a
lead's events of one topic travel in event-batch envelopes of up to `ENVELOPE_MAX`
(`leads.event-batch.v1`, one lead per envelope): the worker scores every event on its
own, the envelope only saves Kafka messages while the input is loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from scorer.simulator import Population, SimEvent, envelopes

HEAVY_SHARE = 0.1
HEAVY_EVENTS = 128
LIGHT_EVENTS = 3
HISTORY_SPAN_S = 30 * 86400.0
ENVELOPE_MAX = 64
CHUNK_LEADS = 2_000


@dataclass(frozen=True, slots=True)
class HistoryMix:
    leads: int
    heavy_share: float = HEAVY_SHARE
    heavy_events: int = HEAVY_EVENTS
    light_events: int = LIGHT_EVENTS
    seed: int = 5

    def is_heavy(self, index: int) -> bool:
        """Lead `index` is heavy when the running heavy count steps up at it (spread evenly)."""
        return int((index + 1) * self.heavy_share) > int(index * self.heavy_share)

    @property
    def heavy_leads(self) -> int:
        return int(self.leads * self.heavy_share)

    @property
    def events(self) -> int:
        heavy = self.heavy_leads
        return heavy * self.heavy_events + (self.leads - heavy) * self.light_events

    def describe(self) -> dict[str, float | int]:
        return {
            "leads": self.leads, "heavy_share": self.heavy_share,
            "heavy_leads": self.heavy_leads, "heavy_events": self.heavy_events,
            "light_events": self.light_events, "events": self.events,
            "span_days": HISTORY_SPAN_S / 86400, "seed": self.seed,
        }  # fmt: skip


def population_of(mix: HistoryMix) -> Population:
    return Population(leads=mix.leads, accounts=max(1, mix.leads // 10), seed=mix.seed)


def lead_histories(
    mix: HistoryMix, now: float, population: Population | None = None
) -> Iterator[list[SimEvent]]:
    """Chunks of leads' histories (each lead's events in event-time order, leads in order).

    `population` (from `population_of(mix)`) may be made beforehand, e.g. to keep it out
    of a memory measurement."""
    if mix.heavy_events < 1 or mix.light_events < 1:
        raise ValueError("every lead has at least its profile event")
    population = population or population_of(mix)
    start = now - HISTORY_SPAN_S
    profiles = population.profiles(start)
    chunk: list[SimEvent] = []
    for index, profile in enumerate(profiles):
        count = mix.heavy_events if mix.is_heavy(index) else mix.light_events
        lead = profile.key
        account = population.account_of[lead]
        chunk.append(profile)
        step = (HISTORY_SPAN_S - 60) / count
        for k in range(1, count):
            casual = population.background(start + k * step)
            value = {**casual.value, "lead_id": lead, "account_id": account}
            chunk.append(SimEvent(casual.topic, lead, value, casual.at))
        if (index + 1) % CHUNK_LEADS == 0:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def as_messages(chunk: list[SimEvent]) -> Iterator[SimEvent]:
    """A chunk's events as messages: one lead's events of one topic in envelopes."""
    return envelopes(chunk, ENVELOPE_MAX, 2 * HISTORY_SPAN_S)


async def produce_history(
    bootstrap: str,
    prefix: str,
    mix: HistoryMix,
    now: float,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    """Produce the mix to the input topics under `prefix` (keyed by lead id)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    events = messages = 0
    try:
        for chunk in lead_histories(mix, now):
            for message in as_messages(chunk):
                await producer.send(
                    f"{prefix}{message.topic}", orjson.dumps(message.value),
                    key=message.key.encode(),
                )  # fmt: skip
                messages += 1
            events += len(chunk)
            if progress is not None:
                progress(events, time.perf_counter() - started)
        await producer.flush()
    finally:
        await producer.stop()
    return {"events": events, "messages": messages, "seconds": time.perf_counter() - started}


def produce_history_sync(
    bootstrap: str,
    prefix: str,
    mix: HistoryMix,
    now: float,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    return asyncio.run(produce_history(bootstrap, prefix, mix, now, progress))
