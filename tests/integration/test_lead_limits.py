"""One lead floods the worker with 100,000 page views (a crawler with a stable id) while
other leads work through buying journeys on both partitions, on a real broker.

Before the bounded state, a flood like this grew the lead's changelog record past the
broker's message size (the table write failed with MessageSizeTooLargeError and the
worker crash-looped) and other leads' event -> alert latency went to tens of seconds.
Now the rate limit (rules/default.yaml: 600 events per lead per minute) refuses the bulk
of it cheaply, as grouped dead letters, and the lead's state stays bounded:

* the worker stays up and accounts for every event (applied or dead-lettered);
* every refused event is in a dead letter (reason rate_limited), one per envelope;
* the crawler's changelog record stays under RECORD_LIMIT (README, Guarantees);
* every journey alerts, with p99 event -> MQL alert under 1 s.

The same worker refuses events dated beyond `timing.max_age` (400 days before its wall
clock) as `too_old`: a new lead whose first event is dated 1970 is never created.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from scorer.contracts import topics as contract
from scorer.stream.admin import apply_topics
from scorer.stream.partitioning import owner_partition
from tests.support import WorkerProcess, http_get, read_topic, run, wait_for

pytestmark = pytest.mark.integration

FLOOD_EVENTS = 100_000
PER_ENVELOPE = 50
# The flood is produced over this long: far beyond any human (the rate limit allows 10
# events per second), and about what the worker refuses per second on the 2-core dev VM.
FLOOD_SECONDS = 20.0
JOURNEYS = 40
PARTITIONS = 2
RECORD_LIMIT = 64 * 1024  # plain page views measure ~55 KB (README: < 128 KB for any page views)
P99_LIMIT_S = 1.0


def _at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def _journey(lead: str) -> list[dict[str, Any]]:
    """Demo request 30 + contact 20 + whitepaper 10 + two case studies 15 + 15: the MQL
    line (80) is crossed by the last event (warm, at 50, by the second)."""
    steps: list[dict[str, Any]] = [
        {"type": "web.form_submit", "form_id": "demo-request"},
        {"type": "web.form_submit", "form_id": "contact"},
        {"type": "web.content_download", "asset_id": "wp-1", "asset_type": "whitepaper"},
        {"type": "web.content_download", "asset_id": "cs-1", "asset_type": "case_study"},
        {"type": "web.content_download", "asset_id": "cs-2", "asset_type": "case_study"},
    ]
    return [{"event_id": f"{lead}-{n}", "lead_id": lead, **step} for n, step in enumerate(steps)]


def _leads() -> tuple[str, list[str]]:
    """The crawler, and journey leads on both partitions (half share the crawler's)."""
    crawler = "crawler-0001"
    on_crawlers = owner_partition(crawler.encode(), PARTITIONS)
    same, other = [], []
    for i in range(10_000):
        lead = f"journey-{i:04d}"
        side = same if owner_partition(lead.encode(), PARTITIONS) == on_crawlers else other
        if len(side) < JOURNEYS // 2:
            side.append(lead)
    return crawler, [lead for pair in zip(same, other, strict=True) for lead in pair]


async def _largest_record(settings: Any, topic: str, key: bytes) -> tuple[int, int]:
    """(records, largest value size) of `key` on a changelog topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    count = largest = 0
    try:
        end = await consumer.end_offsets(list(consumer.assignment()))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    if record.key == key:
                        count += 1
                        largest = max(largest, len(record.value or b""))
            positions = {tp: await consumer.position(tp) for tp in end}
            if all(positions[tp] >= offset for tp, offset in end.items()):
                break
    finally:
        await consumer.stop()
    return count, largest


def test_a_flooding_lead_is_rate_limited_and_ancient_events_refused(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    from confluent_kafka import Producer

    settings = make_settings(partitions=PARTITIONS)
    run(apply_topics(settings))
    worker = start_worker(settings)
    crawler, journey_leads = _leads()
    web = settings.topic(contract.WEB_EVENTS)
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "partitioner": "murmur2_random",  # the worker's partitioning: nothing re-keyed
            "linger.ms": 2,
            # The embedded broker miscounts offsets after multi-record batches.
            "batch.num.messages": 1 if settings.kafka_max_batch_bytes == 1 else 10_000,
            "queue.buffering.max.messages": 100_000,
        }
    )
    # Ancient first events: one from 1970, one 401 days old (and one 399 days old, kept).
    day = 86_400.0
    ancient = {"ancient-1970": 0.0, "ancient-401d": time.time() - 401 * day}
    for lead, at in [*ancient.items(), ("oldish-399d", time.time() - 399 * day)]:
        event = {"event_id": f"{lead}-0", "lead_id": lead, "type": "web.form_submit",
                 "form_id": "demo-request", "occurred_at": _at(at)}  # fmt: skip
        producer.produce(web, orjson.dumps(event), key=lead.encode())
    envelopes = FLOOD_EVENTS // PER_ENVELOPE
    journey_every = envelopes // (JOURNEYS + 1)
    crossing_sent: dict[str, float] = {}
    began = time.time()
    next_event = 0
    for n in range(envelopes):
        # Paced: envelope n leaves at began + n * (FLOOD_SECONDS / envelopes).
        while (ahead := began + n * FLOOD_SECONDS / envelopes - time.time()) > 0:
            producer.poll(min(ahead, 0.05))
        now = time.time()
        events = [
            {"event_id": f"c-{next_event + i}", "lead_id": crawler, "type": "web.page_view",
             "occurred_at": _at(now), "url": f"/p/{(next_event + i) % 997}"}
            for i in range(PER_ENVELOPE)
        ]  # fmt: skip
        next_event += PER_ENVELOPE
        value = orjson.dumps({"schema": "leads.event-batch.v1", "events": events})
        producer.produce(web, value, key=crawler.encode())
        if n % journey_every == journey_every - 1 and len(crossing_sent) < JOURNEYS:
            lead = journey_leads[len(crossing_sent)]
            for event in _journey(lead):
                at = time.time()
                producer.produce(
                    web, orjson.dumps({**event, "occurred_at": _at(at)}), key=lead.encode()
                )
            crossing_sent[lead] = at
        producer.poll(0)
    assert producer.flush(60) == 0, "the flood was not all delivered"
    del producer  # (its connections close now, not after the broker stopped)
    produced_s = time.time() - began
    total = FLOOD_EVENTS + len(_journey("x")) * JOURNEYS + 3

    wait_for(lambda: worker.events_handled() >= total, 90, f"all {total} events handled")
    assert worker.process.exit_code() is None, worker.log_text()[-3000:]
    drained_s = time.time() - began
    log = worker.log_text()
    assert "MessageSizeTooLarge" not in log
    assert "Traceback" not in log, log[-3000:]

    refused = worker.metric("scorer_dead_letters_total", reason="rate_limited")
    applied = worker.metric("scorer_events_total", result="applied")
    assert worker.metric("scorer_dead_letters_total", reason="too_old") == len(ancient)
    assert applied + refused + len(ancient) == total
    for lead in ancient:
        assert http_get(f"{worker.base_url}/leads/{lead}")[0] == 404, lead
    assert http_get(f"{worker.base_url}/leads/oldish-399d")[0] == 200
    # 600 per 1-minute slot of event time: the flood spans at most two slots.
    assert FLOOD_EVENTS - 2 * 600 <= refused <= FLOOD_EVENTS - 600

    # Every refused event is in a dead letter: one per envelope, the events inside.
    def limited_letters() -> list[Any]:
        letters = run(read_topic(settings, contract.DEAD_LETTERS, timeout_s=10))
        reasons = [(m, dict(m.headers).get("scorer.error.reason")) for m in letters]
        if {m.key.decode() for m, reason in reasons if reason == b"too_old"} != set(ancient):
            return []
        found = [m for m, reason in reasons if reason == b"rate_limited"]
        in_letters = sum(len(orjson.loads(m.value)["events"]) for m in found)
        return found if in_letters == refused else []

    letters = wait_for(limited_letters, 60, "the rate-limited and too-old dead letters")
    assert len(letters) <= envelopes
    headers = {k: bytes(v).decode() for k, v in letters[-1].headers}
    assert int(headers["scorer.error.count"]) == len(orjson.loads(letters[-1].value)["events"])

    # Every journey alerted; p99 event -> MQL alert under a second.
    def mql_alerts() -> dict[str, Any]:
        alerts = [orjson.loads(m.value) for m in run(read_topic(settings, contract.HANDOFF_ALERTS))]
        return {a["lead_id"]: a for a in alerts if a["kind"] == "mql"}

    alerts = wait_for(lambda: len(a := mql_alerts()) >= JOURNEYS and a, 60, "every journey's MQL")
    assert set(alerts) == set(journey_leads)
    latencies = sorted(
        datetime.fromisoformat(alerts[lead]["emitted_at"]).timestamp() - sent
        for lead, sent in crossing_sent.items()
    )
    p99 = latencies[math.ceil(0.99 * len(latencies)) - 1]

    changelog = f"{settings.app_id}-lead-state-changelog"
    writes, largest = run(_largest_record(settings, changelog, crawler.encode()))
    print(
        f"\nflood: {FLOOD_EVENTS} events of one lead produced in {produced_s:.1f} s, all handled "
        f"after {drained_s:.1f} s; {int(applied)} applied, {int(refused)} rate-limited in "
        f"{len(letters)} dead letters; crawler record: {writes} writes, largest {largest} "
        f"bytes; journeys: p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    assert writes > 0
    assert largest < RECORD_LIMIT
    assert p99 < P99_LIMIT_S, latencies
