"""The read model's flush on a real Redis: the hashes and rankings a reader finds, whether
Redis runs the flush's Lua script or refuses scripts."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from scorer.devstack import EmbeddedRedis
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import HASHES_PER_CALL, Fields, RedisReadModel, StagedLead
from tests.support import Servers

# The client fixture lives in the session loop (asyncio_default_fixture_loop_scope).
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
async def client(servers: Servers) -> AsyncIterator[Redis]:
    redis = Redis.from_url(servers.redis_url)
    yield redis
    await redis.aclose()


def read_model(redis: Redis) -> RedisReadModel:
    prefix = f"rm-{uuid.uuid4().hex[:8]}:"
    return RedisReadModel(redis, prefix, ScorerMetrics.create(CollectorRegistry()))


def fields(lead_id: str, score: float, team: str = "") -> dict[str, str | int | float]:
    return {
        "lead_id": lead_id, "account_id": "acc-1", "score": score, "fit": 10.0,
        "engagement": round(score - 10.0, 4), "grade": "B", "stage": "lead", "cold": 0,
        "team": team, "rules_version": "2026.05-ja.4", "score_at": 1_764_920_000.123,
        "updated_at": 1_764_920_001.5,
    }  # fmt: skip


def staged(lead_id: str, score: float, *, hot: bool, was_hot: bool, team: str = "") -> StagedLead:
    return StagedLead(fields(lead_id, score, team), "acc-1", team or None, hot, was_hot, score)


async def written_by_hset(redis: Redis, values: Fields) -> dict[bytes, bytes]:
    """What redis-py's own HSET stores for the same fields (the flush must store the same)."""
    key = f"reference:{uuid.uuid4().hex}"
    await redis.hset(key, mapping=dict(values))  # type: ignore[arg-type]
    stored: dict[bytes, bytes] = await redis.hgetall(key)
    await redis.delete(key)
    return stored


@pytest.mark.parametrize(
    ("score", "team"),
    [
        (26.999122560554767, ""),  # a float repr needs all 17 digits
        (80.0, "inside-sales"),
        (1e-05, "東日本営業部"),  # an exponent, and a team name beyond ASCII
        (12.5, 'quote " and \\ backslash'),
    ],
)
async def test_a_flushed_hash_holds_what_hset_would_store(
    client: Redis, score: float, team: str
) -> None:
    model = read_model(client)
    model.stage_lead("lead-1", staged("lead-1", score, hot=False, was_hot=False, team=team))
    await model.flush()
    stored = await client.hgetall(model.lead_key("lead-1"))
    assert stored == await written_by_hset(client, fields("lead-1", score, team))
    assert model.metrics.redis_writes._value.get() == 1


async def test_more_leads_than_one_script_call_takes_are_all_written(client: Redis) -> None:
    model = read_model(client)
    count = 2 * HASHES_PER_CALL + 7
    for n in range(count):
        model.stage_lead(f"lead-{n}", staged(f"lead-{n}", float(n), hot=False, was_hot=False))
    model.stage_account("acc-1", {"account_id": "acc-1", "score": 55.5, "stage": "engaged"})
    await model.flush()
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        pipe.hget(model.lead_key(f"lead-{n}"), "score")
    assert await pipe.execute() == [repr(float(n)).encode() for n in range(count)]
    assert await client.hgetall(model.account_key("acc-1")) == {
        b"account_id": b"acc-1",
        b"score": b"55.5",
        b"stage": b"engaged",
    }
    assert await client.zscore(f"{model.prefix}accounts:by-score", "acc-1") == 55.5


async def test_rankings_gain_hot_leads_and_lose_cooled_ones_in_every_set(client: Redis) -> None:
    model = read_model(client)
    for n in range(3):
        model.stage_lead(
            f"lead-{n}", staged(f"lead-{n}", 90.0 + n, hot=True, was_hot=False, team="east")
        )
    model.stage_lead("lead-cold", staged("lead-cold", 5.0, hot=False, was_hot=False, team="east"))
    await model.flush()
    sets = [f"{model.prefix}hot-leads", f"{model.prefix}account:acc-1:hot-leads",
            f"{model.prefix}team:east:hot-leads"]  # fmt: skip
    for name in sets:
        ranked = await client.zrange(name, 0, -1, withscores=True)
        assert ranked == [(b"lead-0", 90.0), (b"lead-1", 91.0), (b"lead-2", 92.0)]

    model.stage_lead("lead-1", staged("lead-1", 40.0, hot=False, was_hot=True, team="east"))
    model.stage_lead("lead-2", staged("lead-2", 95.0, hot=True, was_hot=True, team="east"))
    await model.flush()
    for name in sets:
        ranked = await client.zrange(name, 0, -1, withscores=True)
        assert ranked == [(b"lead-0", 90.0), (b"lead-2", 95.0)]


async def test_an_erased_lead_staged_again_in_the_same_flush_is_written_after_the_erasure(
    client: Redis,
) -> None:
    model = read_model(client)
    model.stage_lead("lead-1", staged("lead-1", 90.0, hot=True, was_hot=False))
    await model.flush()
    model.stage_lead_erasure("lead-1", "acc-1", set())
    model.stage_lead("lead-1", staged("lead-1", 85.0, hot=True, was_hot=False))
    await model.flush()
    assert await client.hget(model.lead_key("lead-1"), "score") == b"85.0"
    assert await client.zscore(f"{model.prefix}hot-leads", "lead-1") == 85.0


async def test_after_a_redis_restart_the_script_is_loaded_again_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    # Its own Redis: a restart forgets loaded scripts (SCRIPT FLUSH on the shared server
    # would make other tests' workers reload theirs too).
    first = EmbeddedRedis(tmp_path / "first")
    (tmp_path / "first").mkdir()
    first.start()
    restarted = EmbeddedRedis(tmp_path / "again", port=first.port)
    (tmp_path / "again").mkdir()
    redis = Redis.from_url(first.url)
    try:
        model = read_model(redis)
        model.stage_lead("lead-1", staged("lead-1", 1.0, hot=False, was_hot=False))
        await model.flush()
        first.stop()
        restarted.start()
        model.stage_lead("lead-2", staged("lead-2", 2.0, hot=True, was_hot=False))
        for _ in range(5):  # a failed flush keeps its records for the next one
            await model.flush()
            if model.pending == 0:
                break
        assert model.pending == 0
        assert await redis.hget(model.lead_key("lead-2"), "score") == b"2.0"
        assert await redis.zscore(f"{model.prefix}hot-leads", "lead-2") == 2.0
    finally:
        await redis.aclose()
        first.stop()
        restarted.stop()


async def test_a_redis_user_without_scripts_gets_every_hash_one_command_each(
    client: Redis, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    user, password = f"no-scripts-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await client.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"],
        commands=["+@all", "-@scripting"],
    )  # fmt: skip
    limited = Redis.from_url(servers.redis_url, username=user, password=password)
    try:
        model = read_model(limited)
        with caplog.at_level(logging.WARNING, logger="scorer.serving.read_model"):
            for n in range(3):
                model.stage_lead(f"lead-{n}", staged(f"lead-{n}", 90.0, hot=True, was_hot=False))
                await model.flush()
        for n in range(3):
            stored = await client.hgetall(model.lead_key(f"lead-{n}"))
            assert stored == await written_by_hset(client, fields(f"lead-{n}", 90.0))
        assert await client.zcard(f"{model.prefix}hot-leads") == 3
        assert model.metrics.redis_write_errors._value.get() == 0
        warnings = [r.getMessage() for r in caplog.records if "Lua" in r.getMessage()]
        assert warnings == [
            "Redis refused or failed the read model's Lua script (NoPermissionError); one HSET per hash"
        ]
    finally:
        await limited.aclose()
        await client.acl_deluser(user)


async def test_a_key_of_another_type_does_not_keep_the_other_hashes_of_its_chunk_out(
    client: Redis,
) -> None:
    model = read_model(client)
    await client.set(model.lead_key("lead-5"), "not a hash")
    for n in range(10):
        model.stage_lead(f"lead-{n}", staged(f"lead-{n}", float(n), hot=False, was_hot=False))
    await model.flush()  # the script stops at lead-5: its chunk's later hashes are not written
    await model.flush()  # one HSET per hash from now on: only lead-5 fails
    others = [n for n in range(10) if n != 5]
    written = [await client.hget(model.lead_key(f"lead-{n}"), "score") for n in others]
    assert written == [repr(float(n)).encode() for n in others]
    assert await client.get(model.lead_key("lead-5")) == b"not a hash"
    await client.delete(model.lead_key("lead-5"))
