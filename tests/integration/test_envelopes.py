"""Event-batch envelopes on a real broker: the worker scores the events of envelopes as it
scores single events (the same alerts, stages and scores as `scorer score-file` on the
events), a bad event inside an envelope is dead-lettered alone with its index, and the
score-change audit names every scored event."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from scorer.contracts import topics as contract
from scorer.devstack import free_port
from scorer.simulator import TOPIC_BY_CATEGORY
from scorer.stream.admin import apply_topics
from scorer.stream.partitioning import owner_partition
from tests.support import (
    Servers,
    WorkerProcess,
    assert_worker_serves_the_replay,
    http_get,
    isolated_settings,
    produce,
    read_topic,
    rules_for_dated_files,
    run,
    sample_oracle,
    wait_for,
)
from tests.support_collector import CollectorProcess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "sample-events.jsonl"
BATCH = "leads.event-batch.v1"


def _envelope_runs(lines: list[str]) -> list[list[tuple[str, bytes, bytes]]]:
    """File order kept (see test_worker_equals_replay): runs of one topic, each sent after
    the previous one is handled; inside a run, each lead's consecutive events share an
    envelope, and the first envelope carries one bad event too."""
    runs: list[list[tuple[str, str, list[dict[str, Any]]]]] = []
    for line in lines:
        event = json.loads(line)
        topic = TOPIC_BY_CATEGORY[event["type"].partition(".")[0]]
        if not runs or runs[-1][0][0] != topic:
            runs.append([])
        group = runs[-1]
        if group and group[-1][1] == event["lead_id"]:
            group[-1][2].append(event)
        else:
            group.append((topic, event["lead_id"], [event]))
    first_events = runs[0][0][2]
    first_events.insert(1, {**first_events[0], "event_id": "bad-1", "employee_count": -5})
    return [
        [
            (topic, lead.encode(), orjson.dumps({"schema": BATCH, "events": events}))
            for topic, lead, events in group
        ]
        for group in runs
    ]


def test_envelopes_score_like_single_events_and_dead_letter_bad_ones_alone(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(partitions=4, rules_file=rules_for_dated_files(tmp_path))
    run(apply_topics(settings))
    sample = sample_oracle(SAMPLE, settings.rules_file)
    expected_alerts = sorted(sample.expected_alerts)
    leads, rules, events, oracle = sample.leads, sample.rules, sample.events, sample.replayed

    worker = start_worker(settings)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    handled = 0
    for messages in _envelope_runs(lines):
        run(produce(settings, messages))
        handled += sum(len(orjson.loads(value)["events"]) for _, _, value in messages)
        wait_for(lambda n=handled: worker.events_handled() >= n, 30, f"{handled} events handled")

    def alerts() -> list[str]:
        ids = [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]
        return [a for a in ids if ":sla:" not in a]

    found = wait_for(lambda: (a := alerts()) and set(a) >= set(expected_alerts) and a, 60, "alerts")
    assert sorted(found) == expected_alerts
    assert_worker_serves_the_replay(worker, oracle, leads, rules)

    def bad_letters() -> list[Any]:
        letters = run(read_topic(settings, contract.DEAD_LETTERS))
        # The sample has refused events of its own (a duplicate, a too-late open).
        return [m for m in letters if orjson.loads(m.value).get("event_id") == "bad-1"]

    letter = wait_for(bad_letters, 30, "the dead letter")[0]
    headers = {name: bytes(value).decode() for name, value in letter.headers}
    assert headers["scorer.error.index"] == "1"
    assert headers["scorer.error.reason"] == "schema"
    assert headers["scorer.error.detail"].startswith("/events/1/employee_count: ")

    lead_of = {e.event_id: e.lead_id for e in events}

    def audited() -> list[dict[str, Any]]:
        messages = run(read_topic(settings, contract.SCORE_CHANGES))
        return [e for m in messages for e in orjson.loads(m.value)["events"]]

    entries = wait_for(audited, 30, "the audit records")
    assert {e["event_id"] for e in entries} <= set(lead_of)  # not bad-1
    assert all(lead_of[e["event_id"]] == e["lead_id"] for e in entries)


# -- partition envelopes ----------------------------------------------------------------


@dataclass
class Stack:
    settings: Any
    worker: WorkerProcess
    collector: CollectorProcess


@pytest.fixture(scope="module")
def stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One worker (4 partitions, the sample's rules) and one collector (a long linger, so
    concurrent requests surely share envelopes) for the partition-envelope tests."""
    tmp: Path = tmp_path_factory.mktemp("partition-envelopes")
    settings = isolated_settings(
        servers, tmp, partitions=4, rules_file=rules_for_dated_files(tmp),
        collector_port=free_port(), collector_linger_ms=300,
        collector_lead_id_secret="integration-test-secret-0123",  # noqa: S106 - a test key
    )  # fmt: skip
    run(apply_topics(settings))
    worker = WorkerProcess(settings, tmp / "worker.log").start()
    try:
        collector = CollectorProcess(settings, tmp / "collector.log").start()
        try:
            yield Stack(settings, worker, collector)
        finally:
            collector.stop()
    finally:
        worker.stop()


def _crc32_partition_envelopes(
    lines: list[str], partitions: int, max_events: int
) -> list[list[tuple[str, int, bytes, bytes]]]:
    """Runs of one topic in file order (as above); inside a run, partition envelopes as a
    librdkafka producer would make them: each lead always on the partition CRC32 of its
    id picks (so its events stay in order), several leads per envelope, up to
    `max_events`, keyed by the first lead. CRC32 and the worker's murmur2 disagree for
    most leads: those events arrive on a partition that does not own them."""
    runs: list[dict[tuple[str, int], list[list[dict[str, Any]]]]] = []
    previous = None
    for line in lines:
        event = json.loads(line)
        topic = TOPIC_BY_CATEGORY[event["type"].partition(".")[0]]
        if topic != previous:
            runs.append({})
            previous = topic
        partition = zlib.crc32(event["lead_id"].encode()) % partitions
        chunks = runs[-1].setdefault((topic, partition), [[]])
        if len(chunks[-1]) >= max_events:
            chunks.append([])
        chunks[-1].append(event)

    def message(topic: str, partition: int, chunk: list[dict[str, Any]]) -> Any:
        value = orjson.dumps({"schema": BATCH, "events": chunk})
        return (topic, partition, chunk[0]["lead_id"].encode(), value)

    return [
        [message(t, p, chunk) for (t, p), chunks in group.items() for chunk in chunks]
        for group in runs
    ]


async def _produce_to(settings: Any, messages: list[tuple[str, int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all",
        max_batch_size=settings.kafka_max_batch_bytes,
    )  # fmt: skip
    await producer.start()
    try:
        for topic, partition, key, value in messages:
            await producer.send(settings.topic(topic), value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def test_partition_envelopes_on_wrong_partitions_score_every_event_once_as_score_file(
    stack: Stack,
) -> None:
    settings, worker = stack.settings, stack.worker
    sample = sample_oracle(SAMPLE, settings.rules_file)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    runs = _crc32_partition_envelopes(lines, settings.partitions, max_events=6)
    mixed = [
        m for run_ in runs for m in run_
        if len({e["lead_id"] for e in orjson.loads(m[3])["events"]}) > 1
    ]  # fmt: skip
    assert mixed, "the sample should give envelopes of several leads"
    handled = 0
    for messages in runs:
        run(_produce_to(settings, messages))
        handled += sum(len(orjson.loads(value)["events"]) for *_, value in messages)
        wait_for(lambda n=handled: worker.events_handled() >= n, 30, f"{handled} events handled")
    assert worker.events_handled() == len(lines)  # each event once, none forwarded twice
    assert worker.metric("scorer_events_total", result="rekeyed") > 0

    def alerts() -> list[str]:
        ids = [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]
        return sorted(a for a in ids if ":sla:" not in a)

    expected = sorted(sample.expected_alerts)
    found = wait_for(lambda: (a := alerts()) and set(a) >= set(expected) and a, 60, "alerts")
    assert found == expected
    assert_worker_serves_the_replay(worker, sample.replayed, sample.leads, sample.rules)


def test_the_collector_lingers_several_leads_into_one_envelope_and_all_are_scored(
    stack: Stack,
) -> None:
    settings, worker, collector = stack.settings, stack.worker, stack.collector
    leads = [f"lead-linger-{n}" for n in range(24)]
    # One request per lead, all at once: one linger window.
    before = worker.events_handled()

    def post(lead: str) -> int:
        events = [{"type": "web.page_view", "url": f"/pricing/{n}", "lead_id": lead,
                   "event_id": f"{lead}-{n}"} for n in range(2)]  # fmt: skip
        status, _, _ = collector.call(
            "POST", "/v1/events", orjson.dumps(events),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        return status

    with ThreadPoolExecutor(max_workers=len(leads)) as pool:
        assert list(pool.map(post, leads)) == [200] * len(leads)
    messages = [orjson.loads(m.value) for m in run(read_topic(settings, contract.WEB_EVENTS))]
    ours = [m for m in messages if "schema" in m and m["events"][0]["lead_id"] in leads]
    shared = [m for m in ours if len({e["lead_id"] for e in m["events"]}) > 1]
    assert shared, "no envelope held several leads"
    assert len(ours) <= settings.partitions * 2  # grouped per partition, not per request
    for envelope in ours:  # every lead of an envelope is owned by the key's partition
        owners = {owner_partition(e["lead_id"].encode(), 4) for e in envelope["events"]}
        assert owners == {owner_partition(envelope["events"][0]["lead_id"].encode(), 4)}
    wait_for(
        lambda: worker.events_handled() >= before + 2 * len(leads), 30, "the posted events scored"
    )

    def scores() -> list[float] | None:
        answers = [http_get(f"{worker.base_url}/leads/{lead}") for lead in leads]
        if any(status != 200 for status, _ in answers):
            return None
        return [orjson.loads(body)["score"] for _, body in answers]

    assert all(score > 0 for score in wait_for(scores, 10, "every lead served"))
