"""Duplicates score once across restarts; librdkafka and aiokafka producers agree on a lead."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.contracts.outputs import rfc3339
from scorer.core import replay
from scorer.rules import load_rules
from scorer.stream.admin import apply_topics
from scorer.stream.partitioning import owner_partition
from tests.support import WorkerProcess, http_get, produce, run, wait_for

pytestmark = pytest.mark.integration


def _event(lead: str, n: int, at: float, kind: str = "web.page_view") -> dict[str, Any]:
    fields: dict[str, Any] = (
        {"url": "/pricing"} if kind.startswith("web.") else {"campaign_id": "c1"}
    )
    return {
        "event_id": f"{lead}-{n}",
        "lead_id": lead,
        "type": kind,
        "occurred_at": rfc3339(at),
        **fields,
    }


def _lead_score(worker: WorkerProcess, lead: str) -> float | None:
    status, body = http_get(f"{worker.base_url}/leads/{lead}")
    return float(orjson.loads(body)["score"]) if status == 200 else None


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_the_same_event_id_scores_once_also_across_a_restart(
    store: str, make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(store=store)
    run(apply_topics(settings))
    now = time.time()
    first, second = _event("lead-dup", 1, now - 5), _event("lead-dup", 2, now - 4)
    message = (contract.WEB_EVENTS, b"lead-dup", orjson.dumps(first))
    worker = start_worker(settings, "first")
    run(produce(settings, [message, (contract.WEB_EVENTS, b"lead-dup", orjson.dumps(second))]))
    wait_for(
        lambda: worker.metric("scorer_events_total", result="applied") == 2, 30, "two events scored"
    )
    run(produce(settings, [message]))
    wait_for(
        lambda: worker.metric("scorer_events_total", result="duplicate") == 1,
        30,
        "the repeat recognised",
    )
    score_before = _lead_score(worker, "lead-dup")
    worker.stop()

    restarted = start_worker(settings, "second")
    run(produce(settings, [message]))
    wait_for(
        lambda: restarted.metric("scorer_events_total", result="duplicate") >= 1,
        60,
        "the repeat recognised after restart",
    )
    assert restarted.metric("scorer_events_total", result="applied") == 0
    rules = load_rules(settings.rules_file)
    oracle = replay([parse_event(orjson.dumps(e)) for e in (first, second)], rules)
    _, body = http_get(f"{restarted.base_url}/leads/lead-dup")
    document = orjson.loads(body)
    once = oracle.leads["lead-dup"].score_at(document["score_at"], rules).total
    assert score_before == pytest.approx(once, abs=1e-3)
    assert document["score"] == pytest.approx(once, abs=1e-3)


def _lead_split_by_partitioners(partitions: int) -> str:
    """A lead id that librdkafka's CRC32 and murmur2 place on different partitions."""
    for i in range(1000):
        lead = f"lead-split-{i}"
        if zlib.crc32(lead.encode()) % partitions != owner_partition(lead.encode(), partitions):
            return lead
    raise AssertionError("no such lead id")


def test_librdkafka_and_aiokafka_events_of_one_lead_meet_in_one_state(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    from confluent_kafka import Producer

    settings = make_settings(partitions=4)
    run(apply_topics(settings))
    worker = start_worker(settings)
    lead = _lead_split_by_partitioners(4)
    now = time.time()
    from_librdkafka = [_event(lead, n, now - 20 + n, "email.open") for n in range(3)]
    from_aiokafka = [_event(lead, 10 + n, now - 10 + n) for n in range(3)]

    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "consistent_random"}
    )
    delivered: list[int] = []
    for event in from_librdkafka:
        producer.produce(
            settings.topic(contract.EMAIL_EVENTS), orjson.dumps(event), key=lead.encode(),
            on_delivery=lambda err, msg: delivered.append(msg.partition()) if err is None else None,
        )  # fmt: skip
    producer.flush(30)
    assert delivered == [zlib.crc32(lead.encode()) % 4] * 3, "librdkafka used CRC32"
    run(
        produce(
            settings, [(contract.WEB_EVENTS, lead.encode(), orjson.dumps(e)) for e in from_aiokafka]
        )
    )

    rules = load_rules(settings.rules_file)
    oracle = replay([parse_event(orjson.dumps(e)) for e in from_librdkafka + from_aiokafka], rules)
    wait_for(
        lambda: worker.metric("scorer_events_total", result="applied") == 6,
        60,
        "all six events scored",
    )
    assert worker.metric("scorer_events_total", result="rekeyed") == 3
    _, body = http_get(f"{worker.base_url}/leads/{lead}")
    document = orjson.loads(body)
    expected = oracle.leads[lead].score_at(document["score_at"], rules)
    assert document["score"] == pytest.approx(expected.total, abs=1e-3)
