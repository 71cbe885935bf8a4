"""Linger-batching: events of several requests and leads go out grouped per (topic, owner
partition), a request's futures settle on the ack of the envelopes holding its events,
limits close envelopes early, and a failed delivery fails only its own requests.

The producer here is a recording function with the shape of aiokafka's `send` (the
broker path is tested in tests/integration/test_collector.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from scorer.collector.intake import Record
from scorer.collector.linger import DeliveryFailed, EnvelopeLinger
from scorer.contracts.events import EventBatch
from scorer.stream.partitioning import owner_partition

WEB = "leads.web-events.v1"
PARTITIONS = 4


@dataclass
class Broker:
    """Records produced messages; acks at once unless told to hold or fail."""

    sent: list[tuple[str, int | None, bytes, bytes]] = field(default_factory=list)
    deliveries: list[asyncio.Future[Any]] = field(default_factory=list)
    hold: bool = False

    async def produce(self, topic: str, partition: int | None, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, partition, key, value))
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.hold:
            delivery.set_result(None)
        self.deliveries.append(delivery)
        return delivery

    async def partitions_of(self, topic: str) -> int:
        return PARTITIONS

    def events(self) -> list[list[str]]:
        """Event ids per produced message."""
        out = []
        for _, _, _, value in self.sent:
            data = orjson.loads(value)
            batch = EventBatch.model_validate(data).events if "schema" in data else [data]
            out.append([e["event_id"] for e in batch])
        return out


def _record(lead: str, n: int, topic: str = WEB, pad: int = 0) -> Record:
    value = {"event_id": f"{lead}-{n}", "lead_id": lead, "type": "web.page_view",
             "occurred_at": "2026-11-24T01:00:00+00:00", "url": "/" + "x" * pad}  # fmt: skip
    return Record(topic, lead, orjson.dumps(value))


def _leads_on(partition: int, count: int) -> list[str]:
    leads = (f"lead-{i}" for i in range(10_000))
    owned = [lead for lead in leads if owner_partition(lead.encode(), PARTITIONS) == partition]
    return owned[:count]


def _linger(broker: Broker, **limits: Any) -> EnvelopeLinger:
    options = {"linger_s": 0.005, "max_events": 100, "max_bytes": 65536, **limits}
    return EnvelopeLinger(broker.produce, broker.partitions_of, **options)


async def test_requests_of_several_leads_of_a_partition_share_one_envelope() -> None:
    broker = Broker()
    linger = _linger(broker)
    a, b = _leads_on(1, 2)
    (c,) = _leads_on(2, 1)
    first = await linger.submit([_record(a, 0), _record(c, 0)])
    second = await linger.submit([_record(b, 0), _record(a, 1)])
    assert broker.sent == []  # lingering
    await asyncio.gather(*first, *second)
    assert sorted(broker.events()) == [[a + "-0", b + "-0", a + "-1"], [c + "-0"]]
    by_partition = {partition: key for _, partition, key, _ in broker.sent}
    assert by_partition == {1: a.encode(), 2: c.encode()}  # key = the first lead
    await linger.stop(1.0)


async def test_a_request_is_settled_only_when_every_envelope_of_it_is_acked() -> None:
    broker = Broker(hold=True)
    linger = _linger(broker)
    (a,), (c,) = _leads_on(0, 1), _leads_on(3, 1)
    futures = await linger.submit([_record(a, 0), _record(c, 0)])
    await asyncio.sleep(0.05)
    assert len(broker.sent) == 2
    broker.deliveries[0].set_result(None)
    await asyncio.sleep(0)
    assert not all(f.done() for f in futures)
    broker.deliveries[1].set_result(None)
    await asyncio.gather(*futures)
    await linger.stop(1.0)


@pytest.mark.parametrize(
    ("limits", "sizes"),
    [({"max_events": 3}, [3, 3, 1]), ({"max_bytes": 600}, [2, 2, 2, 1])],
    ids=["max-events", "max-bytes"],
)
async def test_limits_close_an_envelope_early_in_order(
    limits: dict[str, int], sizes: list[int]
) -> None:
    broker = Broker()
    linger = _linger(broker, linger_s=10.0, **limits)  # only the limits or stop close
    leads = _leads_on(2, 7)
    futures = await linger.submit([_record(lead, 0, pad=150) for lead in leads])
    await asyncio.sleep(0.01)
    await linger.stop(1.0)
    await asyncio.gather(*futures)
    assert [len(m) for m in broker.events()] == sizes
    assert [e for m in broker.events() for e in m] == [f"{lead}-0" for lead in leads]
    assert all(len(value) <= limits.get("max_bytes", 65536) for *_, value in broker.sent)


async def test_other_topics_go_out_alone_and_a_lone_event_as_itself() -> None:
    broker = Broker()
    linger = _linger(broker, linger_s=0.0)
    (a,) = _leads_on(1, 1)
    link = Record("leads.identity-links.v1", a, b'{"type":"identity.link"}')
    await asyncio.gather(*await linger.submit([_record(a, 0), link]))
    assert [(t, p) for t, p, _, _ in broker.sent] == [("leads.identity-links.v1", None), (WEB, 1)]
    assert "schema" not in orjson.loads(broker.sent[1][3])
    await linger.stop(1.0)


async def test_a_failed_delivery_fails_its_requests_and_the_next_ones_go_through() -> None:
    broker = Broker(hold=True)
    linger = _linger(broker)
    (a,), (c,) = _leads_on(0, 1), _leads_on(3, 1)
    failed = await linger.submit([_record(a, 0)])
    await asyncio.sleep(0.05)
    broker.deliveries[0].set_exception(OSError("broker gone"))
    with pytest.raises(DeliveryFailed, match="OSError"):
        await failed[0]
    broker.hold = False
    await asyncio.gather(*await linger.submit([_record(c, 0)]))
    await linger.stop(1.0)
