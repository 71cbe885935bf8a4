"""Redis is a read model: while it is down scoring goes on and errors are counted; when it
returns, the staged records catch up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.devstack import EmbeddedRedis
from scorer.stream.admin import apply_topics
from tests.support import WorkerProcess, http_get, produce, run, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[EmbeddedRedis]]:
    servers = [EmbeddedRedis(tmp_path)]
    servers[0].start()
    yield servers
    for server in servers:
        server.stop()


def test_scoring_survives_a_redis_outage_and_redis_catches_up(
    make_settings: Callable[..., Any],
    start_worker: Callable[..., WorkerProcess],
    own_redis: list[EmbeddedRedis],
    tmp_path: Path,
) -> None:
    settings = make_settings(redis_url=own_redis[0].url)
    run(apply_topics(settings))
    worker = start_worker(settings)
    now = time.time()

    def views(lead: str, first: int, count: int) -> list[tuple[str, bytes, bytes]]:
        return [
            (contract.WEB_EVENTS, lead.encode(), orjson.dumps({
                "event_id": f"{lead}-{n}", "lead_id": lead, "type": "web.page_view",
                "occurred_at": rfc3339(now - 30 + n), "url": f"/page-{n}"}))
            for n in range(first, first + count)
        ]  # fmt: skip

    run(produce(settings, views("lead-r1", 0, 2)))
    client = redis.Redis.from_url(own_redis[0].url, decode_responses=True)
    first = wait_for(
        lambda: client.hgetall(f"{settings.redis_key_prefix}lead:lead-r1"), 20, "first write"
    )

    own_redis[0].stop()
    run(produce(settings, views("lead-r1", 2, 3) + views("lead-r2", 0, 3)))
    wait_for(
        lambda: worker.metric("scorer_redis_write_errors_total") > 0, 30, "Redis errors counted"
    )
    # Scoring went on: the table has the events Redis missed.
    scored = orjson.loads(http_get(f"{worker.base_url}/leads/lead-r2")[1])
    assert scored["lead_id"] == "lead-r2"
    after = orjson.loads(http_get(f"{worker.base_url}/leads/lead-r1")[1])
    assert after["score"] > float(first["score"]) + 0.5, "the outage's events were scored"

    restarted = EmbeddedRedis(tmp_path / "again", port=own_redis[0].port)
    (tmp_path / "again").mkdir()
    own_redis.append(restarted)
    restarted.start()
    client = redis.Redis.from_url(restarted.url, decode_responses=True)

    def converged() -> bool:
        for lead in ("lead-r1", "lead-r2"):
            stored = client.hgetall(f"{settings.redis_key_prefix}lead:{lead}")
            status, body = http_get(f"{worker.base_url}/leads/{lead}")
            if not stored or status != 200:
                return False
            current = orjson.loads(body)
            # Seconds of decay on a 14-day half-life are far below one point.
            if abs(float(stored["score"]) - current["score"]) > 0.01:
                return False
        return True

    assert wait_for(converged, 30, "Redis to catch up after its restart")
    assert worker.process.exit_code() is None
