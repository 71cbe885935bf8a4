"""The three ways tests get servers; each is exercised where it can be.

The Docker path is skipped (with the reason) when no Docker engine answers; the same
round trip always runs on the servers the session uses (environment or embedded stack).
"""

from __future__ import annotations

import asyncio

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support import Servers, containerized_servers, docker_engine_answers, unique_id

pytestmark = pytest.mark.integration


async def _kafka_round_trip(bootstrap: str) -> bytes:
    topic = unique_id("roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"ping", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    return bytes(message.value)


def _check(servers: Servers) -> None:
    assert asyncio.run(_kafka_round_trip(servers.kafka_bootstrap)) == b"ping"
    client = redis.Redis.from_url(servers.redis_url)
    assert client.ping()


def test_session_servers_round_trip(servers: Servers) -> None:
    assert servers.source in {"environment", "testcontainers", "embedded"}
    _check(servers)


@pytest.mark.docker
@pytest.mark.skipif(not docker_engine_answers(), reason="no Docker engine answers here")
def test_testcontainers_kafka_and_redis_round_trip() -> None:
    with containerized_servers() as servers:
        _check(servers)
