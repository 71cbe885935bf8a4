"""Faults inside the worker lose nothing: junk on every internal topic (and on the erase
requests) is dead-lettered with its reason while the valid events around it are scored as
the offline replay scores them; a Redis that comes back empty (restart, flush) is refilled
without any event flowing.

One worker and one Redis of its own serve the module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaProducer

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.contracts.outputs import rfc3339
from scorer.core import replay
from scorer.devstack import EmbeddedRedis
from scorer.rules import load_rules
from scorer.settings import Settings
from scorer.stream.admin import apply_topics
from tests.support import (
    Servers,
    WorkerProcess,
    isolated_settings,
    read_topic,
    run,
    scores_differing_from,
    wait_for,
)

pytestmark = pytest.mark.integration

SOURCE = "scorer.source-topic"
Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]]]


@dataclass
class Rig:
    settings: Settings
    worker: WorkerProcess
    redis_servers: list[EmbeddedRedis]
    tmp: Path


@pytest.fixture(scope="module")
def rig(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("faults")
    own_redis = EmbeddedRedis(tmp)
    own_redis.start()
    settings = isolated_settings(servers, tmp, redis_url=own_redis.url)
    run(apply_topics(settings))
    worker = WorkerProcess(settings, tmp / "worker.log")
    rig = Rig(settings, worker, [own_redis], tmp)
    try:
        worker.start()
        yield rig
    finally:
        worker.stop()
        for server in rig.redis_servers:
            server.stop()


async def _produce(settings: Settings, records: list[Record]) -> list[tuple[int, int]]:
    """Send (topic, key, value, headers) in order; (partition, offset) of each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all",
        max_batch_size=settings.kafka_max_batch_bytes,
    )  # fmt: skip
    await producer.start()
    try:
        placed = []
        for topic, key, value, headers in records:
            meta = await producer.send_and_wait(
                settings.topic(topic), value, key=key, headers=headers or None
            )
            placed.append((meta.partition, meta.offset))
        return placed
    finally:
        await producer.stop()


def _view(lead: str, n: int, at: float, account: str) -> dict[str, Any]:
    return {
        "event_id": f"{lead}-{n}", "lead_id": lead, "account_id": account,
        "type": "web.page_view", "occurred_at": rfc3339(at), "url": "/pricing",
    }  # fmt: skip


def _signal(lead: str, account: str) -> dict[str, Any]:
    return {"v": 1, "type": "lead_signal", "account_id": account, "lead_id": lead, "seq": 1}


def test_junk_on_every_internal_topic_is_dead_lettered_and_valid_events_are_scored(
    rig: Rig,
) -> None:
    settings, worker = rig.settings, rig.worker
    now = time.time()
    valid = [_view(f"lead-f{i % 4}", i, now - 60 + i, f"acc-f{i % 2}") for i in range(16)]
    rekeyed, signals, ticks, erase = (
        contract.REKEYED_EVENTS, contract.ACCOUNT_SIGNALS, contract.TIMER_TICKS,
        contract.ERASE_REQUESTS,
    )  # fmt: skip
    web = settings.topic(contract.WEB_EVENTS).encode()
    event = orjson.dumps(_view("lead-j", 1, now - 30, "acc-j"))
    # (record, expected dead-letter reason)
    junk: list[tuple[Record, str]] = [
        ((rekeyed, b"lead-j", event, []), "bad_header"),                      # header missing
        ((rekeyed, b"lead-j", event, [(SOURCE, b"\xff\xfe")]), "bad_header"),  # not UTF-8
        ((rekeyed, b"lead-j", event, [(SOURCE, b"leads.nope")]), "bad_header"),
        ((rekeyed, b"lead-j", event, [(SOURCE, None)]), "bad_header"),        # null value
        ((rekeyed, b"lead-j", b"{not json", [(SOURCE, web)]), "not_json"),
        ((rekeyed, b"lead-j", b'{"type": "web.page_view"}', [(SOURCE, web)]), "schema"),
        ((signals, b"acc-j", b"\x00\x01 not json", []), "not_json"),
        ((signals, b"acc-j", b'{"v": 1, "type": "lead_signals", "signals": 7}', []), "schema"),
        ((signals, b"acc-j", orjson.dumps({"v": 1, "type": "lead_signals",
                                           "signals": [_signal("lead-j", "acc-j")]}), []), "schema"),
        ((signals, b"acc-j", orjson.dumps(_signal("lead-j", "acc-j")), []), "schema"),
        ((signals, b"acc-j", b"[1, 2]", []), "schema"),
        ((ticks, b"0", b"tick", []), "not_json"),
        ((ticks, b"0", b'{"v": 1, "partition": 99, "now": 1.0}', []), "schema"),
        ((ticks, b"1", None, []), "empty"),
        ((erase, b"lead-j", b"erase them", []), "not_json"),
        ((erase, b"lead-j", b'{"type": "erase_request", "lead": "lead-j"}', []), "schema"),
    ]  # fmt: skip
    records: list[Record] = []
    reasons: list[str | None] = []
    for index, event_record in enumerate(valid):
        records.append((contract.WEB_EVENTS, event_record["lead_id"].encode(),
                        orjson.dumps(event_record), []))  # fmt: skip
        reasons.append(None)
        if index < len(junk):
            records.append(junk[index][0])
            reasons.append(junk[index][1])
    placed = run(_produce(settings, records))
    expected = {
        (settings.topic(record[0]), partition, offset): reason
        for record, reason, (partition, offset) in zip(records, reasons, placed, strict=True)
        if reason is not None
    }

    def found() -> dict[tuple[str, int, int], str]:
        letters = {}
        for letter in run(read_topic(settings, contract.DEAD_LETTERS)):
            headers = {name: bytes(value).decode() for name, value in letter.headers}
            origin = (
                headers["scorer.error.topic"],
                int(headers["scorer.error.partition"]),
                int(headers["scorer.error.offset"]),
            )
            letters[origin] = headers["scorer.error.reason"]
        return letters if expected.keys() <= letters.keys() else {}

    letters = wait_for(found, 60, "every junk record dead-lettered")
    assert {origin: letters[origin] for origin in expected} == expected
    assert set(letters) == set(expected), "only the junk is dead-lettered"

    rules = load_rules(settings.rules_file)
    oracle = replay([parse_event(orjson.dumps(e)) for e in valid], rules)
    assert len(oracle.accounts) == 2
    wait_for(
        lambda: worker.metric("scorer_events_total", result="applied") >= len(valid),
        30, "every valid event scored",
    )  # fmt: skip
    assert worker.metric("scorer_events_total", result="applied") == len(valid)
    wrong = wait_for(
        lambda: not scores_differing_from(oracle, rules, settings) or None, 30, "Redis = replay"
    )
    assert wrong is True
    assert worker.process.exit_code() is None, "the worker never crashed"
    assert "Traceback" not in worker.log_text()


def test_a_redis_that_comes_back_empty_is_refilled_without_new_events(rig: Rig) -> None:
    settings = rig.settings
    now = time.time()
    events = [_view(f"lead-h{i % 3}", i, now - 20 + i, "acc-h") for i in range(6)]
    run(_produce(settings, [
        (contract.WEB_EVENTS, e["lead_id"].encode(), orjson.dumps(e), []) for e in events
    ]))  # fmt: skip
    old = rig.redis_servers[-1]
    client = redis.Redis.from_url(old.url, decode_responses=True)
    pattern = f"{settings.redis_key_prefix}*"
    wanted = {f"{settings.redis_key_prefix}lead:lead-h{i}" for i in range(3)}
    wanted.add(f"{settings.redis_key_prefix}account:acc-h")
    marker = f"{settings.redis_key_prefix}read-model:worker:*"
    wait_for(lambda: wanted <= set(client.keys(pattern)), 30, "the leads in Redis")
    before = set(client.keys(pattern))
    assert client.keys(marker), "the worker marked its Redis"

    def restart_empty() -> redis.Redis:
        rig.redis_servers[-1].stop()
        workdir = rig.tmp / f"redis-{len(rig.redis_servers)}"
        workdir.mkdir()
        fresh = EmbeddedRedis(workdir, port=old.port)
        rig.redis_servers.append(fresh)
        fresh.start()
        return redis.Redis.from_url(fresh.url, decode_responses=True)

    def refilled() -> set[str] | None:
        missing = before - set(client.keys(pattern))
        return None if missing else before

    started = time.monotonic()
    client = restart_empty()
    assert not client.keys(pattern), "the new Redis starts empty"
    wait_for(refilled, 30, "every key back after the restart")
    took = time.monotonic() - started
    assert rig.worker.metric("scorer_read_model_resyncs_total", cause="redis_lost") >= 1
    assert client.zcard(f"{settings.redis_key_prefix}accounts:by-score") >= 1

    client.flushall()
    wait_for(refilled, 30, "every key back after FLUSHALL")
    assert rig.worker.metric("scorer_read_model_resyncs_total", cause="redis_lost") >= 2
    print(f"refilled {len(before)} keys {took:.1f} s after the restart")
