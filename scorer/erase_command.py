"""`scorer erase LEAD_ID...`: send erase requests and wait for the workers' erasure records."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from scorer.contracts import topics as contract
from scorer.contracts.erasure import erase_request
from scorer.settings import Settings
from scorer.stream.admin import check_broker, client_options


@dataclass(frozen=True, slots=True)
class Outcome:
    lead_id: str
    request_id: str
    erasure: dict[str, object] | None  # the erasure record, None if not seen in time

    def describe(self) -> str:
        if self.erasure is None:
            return f"{self.lead_id}: requested ({self.request_id}), not confirmed yet"
        if self.erasure.get("found"):
            account = self.erasure.get("account_id")
            where = f", removed from account {account}" if account else ""
            return f"{self.lead_id}: erased{where} ({self.request_id})"
        return f"{self.lead_id}: no state held; erasure recorded ({self.request_id})"


async def erase(settings: Settings, lead_ids: Sequence[str], wait_s: float) -> list[Outcome]:
    """Publish one request per lead; with wait_s > 0, wait that long for their records.

    The erasures topic is read from its end as it was before the requests were sent, so
    only records of these requests count.
    """
    await check_broker(settings)
    options = client_options(settings)
    requests = {f"cli-{uuid.uuid4().hex[:12]}": lead for lead in lead_ids}
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        topic = settings.topic(contract.ERASURES)
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            raise_missing(topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        await _send(settings, options, requests)
        seen: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + wait_s
        while len(seen) < len(requests) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    data = orjson.loads(record.value or b"{}")
                    if isinstance(data, dict) and data.get("request_id") in requests:
                        seen[str(data["request_id"])] = data
    finally:
        await consumer.stop()
    return [Outcome(lead, rid, seen.get(rid)) for rid, lead in requests.items()]


async def _send(settings: Settings, options: dict[str, object], requests: dict[str, str]) -> None:
    producer = AIOKafkaProducer(
        **options, acks="all", max_batch_size=settings.kafka_max_batch_bytes
    )
    await producer.start()
    try:
        topic = settings.topic(contract.ERASE_REQUESTS)
        now = time.time()
        for request_id, lead in requests.items():
            value = orjson.dumps(erase_request(lead, request_id, now))
            # Keyed by lead id with aiokafka's murmur2, the partition that owns the lead.
            await producer.send_and_wait(topic, value, key=lead.encode())
    finally:
        await producer.stop()


def raise_missing(topic: str) -> None:
    from scorer.settings import ConfigError

    raise ConfigError(f"topic {topic} does not exist; run: scorer topics apply")
