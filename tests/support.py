"""Helpers shared by the integration tests: servers, workers, producing, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from scorer.devstack import DevStack, ManagedProcess, free_port
from scorer.devstack.session import worker_env
from scorer.settings import Settings, load_settings

KAFKA_ENV = "TEST_KAFKA_BOOTSTRAP"
REDIS_ENV = "TEST_REDIS_URL"


# Tansu takes half the session timeout to form a group and the whole of it to move a
# silent member's partitions: every worker start waited 5 s, every kill 10 s more, at the
# worker's default of 10 s. Real Kafka refuses less than 6 s, so only the embedded broker
# gets this; heartbeats go every second (app.py), so a session still outlives 3 lost ones.
EMBEDDED_TEST_OVERRIDES: Mapping[str, object] = {"kafka_session_timeout_s": 4.0}


@dataclass(frozen=True, slots=True)
class Servers:
    kafka_bootstrap: str
    redis_url: str
    source: str  # environment, testcontainers or embedded
    overrides: Mapping[str, object] = field(default_factory=dict)  # settings these servers need


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def containerized_servers() -> Iterator[Servers]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.redis import RedisContainer

    with (
        KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka,
        RedisContainer("redis:7.4") as redis,
    ):
        host = redis.get_container_host_ip()
        port = redis.get_exposed_port(6379)
        yield Servers(kafka.get_bootstrap_server(), f"redis://{host}:{port}/0", "testcontainers")


@contextlib.contextmanager
def servers_for_tests() -> Iterator[Servers]:
    """Environment addresses → testcontainers (Docker engine answers) → embedded stack."""
    if os.environ.get(KAFKA_ENV) and os.environ.get(REDIS_ENV):
        yield Servers(os.environ[KAFKA_ENV], os.environ[REDIS_ENV], "environment")
    elif docker_engine_answers():
        with containerized_servers() as servers:
            yield servers
    else:
        with DevStack() as stack:
            overrides = {**stack.client_overrides(), **EMBEDDED_TEST_OVERRIDES}
            yield Servers(stack.kafka_bootstrap, stack.redis_url, "embedded", overrides)


def isolated_settings(servers: Servers, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings whose topics, consumer group and Redis keys no other test shares."""
    tag = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "kafka_bootstrap": servers.kafka_bootstrap,
        "redis_url": servers.redis_url,
        "app_id": f"test-{tag}",
        "topic_prefix": f"t{tag}.",
        "redis_key_prefix": f"test:{tag}:",
        "web_port": free_port(),
        "data_dir": tmp_path / "data",
        "redis_flush_interval_s": 0.1,
        "partitions": 2,
    }
    values.update(servers.overrides)
    values.update(overrides)
    return load_settings({}, **values)


def rules_for_dated_files(tmp_path: Path) -> Path:
    """rules/default.yaml without `timing.max_age`, for tests that send the fixed-date
    files in tests/data to a worker: the worker judges age against the wall clock,
    `score-file` against the file's own clock, and those dates get older every day."""
    from scorer.settings import DEFAULT_RULES_FILE

    text = Path(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
    if "  max_age: 400d" not in text:
        raise AssertionError("rules/default.yaml no longer sets timing.max_age: 400d")
    path = tmp_path / "default-without-max-age.yaml"
    path.write_text(text.replace("  max_age: 400d", "  max_age: null", 1), encoding="utf-8")
    return path


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll until `check()` returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class ScorerProcess:
    """A `scorer <command>` subprocess with the given settings, ready when its HTTP
    `/ready` answers 200."""

    command = "worker"

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process = ManagedProcess(
            f"scorer {self.command}", [sys.executable, "-m", "scorer", self.command],
            env=worker_env(settings), log_path=log_path,
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def start(self, timeout_s: float = 90.0) -> Self:
        self.process.start()
        try:
            self.process.wait_until(
                lambda: http_get(self.base_url + "/ready")[0] == 200, timeout_s, "ready"
            )
        except Exception:
            print(self.log_text()[-4000:], file=sys.stderr)
            raise
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def metrics(self) -> str:
        return http_get(self.base_url + "/metrics")[1].decode()

    def metric(self, name: str, exposition: str | None = None, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when none), read
        from `exposition` (one /metrics answer) or from a fresh /metrics read."""
        from prometheus_client.parser import text_string_to_metric_families

        text = self.metrics() if exposition is None else exposition
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def stop(self) -> None:
        self.process.stop(timeout_s=15)


def stop_all(processes: Iterable[ScorerProcess], timeout_s: float = 15.0) -> None:
    """Stop scorer subprocesses together: each takes a second or two to shut down, so
    all are asked at once and then awaited; one still running at the deadline is killed."""
    processes = list(processes)
    for scorer in processes:
        pid = scorer.process.pid
        if pid is not None and scorer.process.exit_code() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, scorer.process.stop_signal)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(
        p.process.pid is not None and p.process.exit_code() is None for p in processes
    ):
        time.sleep(0.05)
    for scorer in processes:
        scorer.process.kill()  # only one that outlived the deadline is still there
        scorer.stop()


class WorkerProcess(ScorerProcess):
    """A `scorer worker` subprocess with the given settings."""

    def events_handled(self) -> float:
        """Input events accounted for (a re-keyed event is counted once, where it is scored)."""
        # One /metrics read for both sums: the benchmark polls this every 0.2 s, and each
        # read costs the measured worker an exposition.
        exposition = self.metrics()
        total = self.metric("scorer_events_total", exposition)
        return total - self.metric("scorer_events_total", exposition, result="rekeyed")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def produce(settings: Settings, messages: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    """Send (contract topic, key, value) messages and wait for the broker's acks.

    Batches are as large as the settings allow: on the embedded broker that is one record,
    because Tansu miscounts offsets after multi-record batches (its end offset then lags,
    and a consumer group resuming mid-topic after a crash was seen to stop short).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        max_batch_size=settings.kafka_max_batch_bytes,
    )
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send(settings.topic(topic), value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def event_messages(events: Iterable[dict[str, Any]]) -> list[tuple[str, bytes, bytes]]:
    from scorer.simulator import TOPIC_BY_CATEGORY

    return [
        (TOPIC_BY_CATEGORY[e["type"].partition(".")[0]], e["lead_id"].encode(), orjson.dumps(e))
        for e in events
    ]


async def read_topic(settings: Settings, topic: str, timeout_s: float = 2.0) -> list[Any]:
    """Every message currently on a topic (from the beginning, no consumer group)."""
    consumer = AIOKafkaConsumer(
        settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
    )  # fmt: skip
    await consumer.start()
    messages: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                messages.extend(records)
            end = await consumer.end_offsets(list(consumer.assignment()))
            positions = {tp: await consumer.position(tp) for tp in end}
            if end and all(positions[tp] >= offset for tp, offset in end.items()):
                break
    finally:
        await consumer.stop()
    return messages


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def scores_differing_from(oracle: Any, rules: Any, settings: Settings) -> list[str]:
    """Leads and accounts whose Redis hash differs from the replay's state at the hash's time."""
    import redis

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    wrong = []
    for kind, states in (("lead", oracle.leads), ("account", oracle.accounts)):
        for subject, state in states.items():
            stored = client.hgetall(f"{settings.redis_key_prefix}{kind}:{subject}")
            if not stored:
                wrong.append(subject)
                continue
            expected = state.score_at(float(stored["score_at"]), rules).total
            if abs(float(stored["score"]) - expected) > 1e-3:
                wrong.append(subject)
    return wrong


def describe_score_differences(
    oracle: Any, rules: Any, settings: Settings, workers: list[WorkerProcess], limit: int = 5
) -> str:
    """For a failure message: per differing subject, the Redis hash, the owning worker's
    table state (GET /leads or /accounts) and the replay, so it shows which one is behind."""
    import redis

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    lines = []
    for subject in scores_differing_from(oracle, rules, settings)[:limit]:
        kind = "lead" if subject in oracle.leads else "account"
        state = (oracle.leads if kind == "lead" else oracle.accounts)[subject]
        stored = client.hgetall(f"{settings.redis_key_prefix}{kind}:{subject}")
        tables = []
        for worker in workers:
            if worker.process.exit_code() is not None:
                continue
            status, body = http_get(f"{worker.base_url}/{kind}s/{subject}")
            if status == 200:
                doc = orjson.loads(body)
                at = doc.get("score_at")
                tables.append(
                    f"table {doc.get('score')} at {at}"
                    + (f" (replay then {state.score_at(float(at), rules).total:.4f})" if at else "")
                )
        at = float(stored["score_at"]) if stored else None
        expected = state.score_at(at, rules).total if at else None
        lines.append(
            f"{kind} {subject}: redis {stored.get('score')} at {at} (replay then {expected}); "
            + ("; ".join(tables) or "no worker serves it")
        )
    return "\n".join(lines)


def assert_worker_serves_the_replay(
    worker: WorkerProcess, oracle: Any, leads: Mapping[str, Mapping[str, Any]], rules: Any
) -> None:
    """Each lead's stage, score and grade served by the worker equal the replay's."""
    import pytest

    for lead_id, offline_score in leads.items():
        status, body = http_get(f"{worker.base_url}/leads/{lead_id}")
        assert status == 200, lead_id
        document = orjson.loads(body)
        assert document["stage"] == offline_score["stage"], lead_id
        # Scores decay: compare at the instant the worker reported.
        at_same_time = oracle.leads[lead_id].score_at(document["score_at"], rules)
        assert document["score"] == pytest.approx(at_same_time.total, abs=1e-3), lead_id
        assert document["grade"] == at_same_time.grade, lead_id


@dataclass(frozen=True)
class SampleOracle:
    """What `scorer score-file` says about a sample file: the threshold alerts (SLA
    breaches left out: a caught-up worker fires them by the wall clock), the final lead
    records, the rules, the parsed events and their replay."""

    expected_alerts: list[str]
    leads: dict[str, dict[str, Any]]
    rules: Any
    events: list[Any]
    replayed: Any


def sample_oracle(sample: Path, rules_file: Path) -> SampleOracle:
    import json

    from scorer.core import replay
    from scorer.replay_file import read_events, replay_file
    from scorer.rules import load_rules

    offline = [json.loads(line) for line in replay_file(sample, rules_file)]
    rules = load_rules(rules_file)
    events = read_events(sample)[0]
    return SampleOracle(
        expected_alerts=[
            r["alert_id"] for r in offline if r["type"] == "alert" and r["kind"] != "sla_breached"
        ],
        leads={r["lead_id"]: r for r in offline if r["type"] == "lead_score"},
        rules=rules,
        events=events,
        replayed=replay(events, rules),
    )


async def committed_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """The worker group's committed offsets on `topics` (partitions without one left out).

    Asked through a consumer of the group that never joins it (OffsetFetch only); the
    embedded broker's answer to the admin client's ListConsumerGroupOffsets does not parse.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id,
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        committed: dict[tuple[str, int], int] = {}
        for topic in topics:
            name = settings.topic(topic)
            for partition in range(settings.partitions):
                offset = await consumer.committed(TopicPartition(name, partition))
                if offset is not None and offset >= 0:
                    committed[(name, partition)] = offset
        return committed
    finally:
        await consumer.stop()


# -- backlogs read in another order than the file's (issue 17) -----------------------------------

ADVERSARIAL_TOPIC_ORDER = ("sales-feedback", "profile-updates", "email", "seminar", "web")


def with_sales_answers(events: list[Any], rules: Any, delay_s: float = 3.0) -> list[Any]:
    """Simulated events (`SimEvent`s) plus sales feedback answering every MQL their replay
    hands off, `delay_s` after it: accepted, rejected, or qualified without an accept
    first (a jump), in turn; all in event-time order."""
    from scorer.contracts import topics as contract
    from scorer.contracts.events import parse_event
    from scorer.core import replay
    from scorer.simulator import SimEvent

    replayed = replay([parse_event(orjson.dumps(e.value)) for e in events], rules)
    kinds = (("feedback.accepted", None), ("feedback.rejected", "no budget this year"),
             ("feedback.qualified", "budget confirmed"))  # fmt: skip
    answers = []
    mqls = [a for a in replayed.alerts if a.kind == "mql" and a.subject == "lead"]
    for n, alert in enumerate(mqls):
        kind, reason = kinds[n % len(kinds)]
        at = alert.occurred_at + delay_s
        value: dict[str, Any] = {
            "event_id": f"answer-{n:03d}", "lead_id": alert.lead_id, "type": kind,
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
            + f".{int(at % 1 * 1e6):06d}+00:00",
        }  # fmt: skip
        if reason is not None:
            value["reason"] = reason
        answers.append(SimEvent(contract.SALES_FEEDBACK, alert.lead_id, value, at))
    return sorted([*events, *answers], key=lambda e: e.at)


def topics_in_turn(
    messages: list[tuple[str, bytes, bytes]], order: Iterable[str] = ADVERSARIAL_TOPIC_ORDER
) -> list[tuple[str, bytes, bytes]]:
    """The messages topic after topic (each topic's own order kept, as Kafka keeps a
    partition's): with `order` starting at the sales feedback, every answer is on the
    broker before the activity it answers, whatever order the worker reads them in."""
    rank = {topic: n for n, topic in enumerate(order)}

    def topic_rank(message: tuple[str, bytes, bytes]) -> int:
        name = message[0]
        return next((n for topic, n in rank.items() if topic in name), len(rank))

    return sorted(messages, key=topic_rank)


def records_to_end(
    bootstrap: str, topic: str, partitions: int, timeout_s: float = 30.0
) -> tuple[list[tuple[int, bytes | None, bytes | None]], dict[int, int]]:
    """Every record of `topic` up to its end offsets as (partition, key, value), in each
    partition's order, and those end offsets (a changelog read as a restarted worker
    would)."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as Partition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"read-{topic}-{time.monotonic_ns()}",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })  # fmt: skip
    try:
        ends = {
            p: consumer.get_watermark_offsets(Partition(topic, p))[1] for p in range(partitions)
        }
        consumer.assign([Partition(topic, p, 0) for p in range(partitions)])
        records: list[tuple[int, bytes | None, bytes | None]] = []
        read = dict.fromkeys(range(partitions), 0)
        deadline = time.monotonic() + timeout_s
        while any(read[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is None:
                    records.append((message.partition(), message.key(), message.value()))
                    read[message.partition()] = message.offset() + 1
        assert all(read[p] >= ends[p] for p in ends), f"{topic} not read to its end"
        return records, ends
    finally:
        consumer.close()
