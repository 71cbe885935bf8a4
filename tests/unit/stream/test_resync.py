"""Copying newly assigned partitions' states to the read model, in time-boxed slices."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from scorer.core import Event, EventKind, LeadState, apply_event
from scorer.rules import load_rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream import resync
from scorer.stream.codecs import ACCOUNT_CODEC, LEAD_CODEC
from scorer.stream.partitioning import owner_partition
from scorer.stream.resync import ReadModelResync
from scorer.stream.state_cache import StateCache

RULES = load_rules(DEFAULT_RULES_FILE)


def lead(lead_id: str, at: float = 1_000.0) -> LeadState:
    event = Event(
        event_id=f"{lead_id}-1", lead_id=lead_id, kind=EventKind.PAGE_VIEW,
        occurred_at=at, fields={"url": "/pricing"},
    )  # fmt: skip
    return apply_event(None, event, RULES, at).state


def make(leads: int) -> tuple[ReadModelResync, RedisReadModel]:
    # Never flushed, so the client never connects: the staging is what is checked.
    read_model = RedisReadModel(
        Redis.from_url("redis://127.0.0.1:1/0"), "t:", ScorerMetrics.create(CollectorRegistry())
    )
    template = lead("lead-0")
    table = {
        f"lead-{i}".encode(): LEAD_CODEC.encode(template._replace(lead_id=f"lead-{i}"))
        for i in range(leads)
    }
    syncer = ReadModelResync(
        StateCache(table, LEAD_CODEC, 4), StateCache({}, ACCOUNT_CODEC, 4),
        RULES, read_model, 4, lambda: 2_000.0,
        # A staged state costs 1 ms (of a fake clock): the slices are timed with it.
        timer=lambda: read_model.pending * 0.001,
    )  # fmt: skip
    return syncer, read_model


def owned(syncer: ReadModelResync, partitions: set[int]) -> set[bytes]:
    table = syncer.lead_table.table
    return {k for k in table if owner_partition(k, 4) in partitions}


async def test_only_newly_assigned_partitions_are_copied_and_only_once() -> None:
    syncer, read_model = make(40)
    mine = owned(syncer, {0, 2})
    assert await syncer.step({0, 2}) == len(mine)
    assert {k.encode() for k in read_model._leads} == mine
    assert await syncer.step({0, 2}) == 0


async def test_a_partition_regained_after_a_revocation_is_copied_again() -> None:
    syncer, _ = make(40)
    first = await syncer.step({0, 1})
    await syncer.step({0})
    assert await syncer.step({0, 1}) == first - len(owned(syncer, {0}))


async def test_a_copy_newer_than_the_table_is_what_is_staged() -> None:
    syncer, read_model = make(8)
    key = next(iter(owned(syncer, {1})))
    newer = lead(key.decode(), at=1_500.0)
    syncer.lead_table.put(key, newer, None)  # type: ignore[arg-type]
    await syncer.step({1})
    assert read_model._leads[key.decode()].fields["score_at"] == newer.score_at(2_000.0, RULES).at


async def test_a_large_copy_lets_the_loop_in_every_slice_and_pauses_between_flushes() -> None:
    """1,000 states at 1 ms each: at most a slice's worth (50 ms) staged between two
    turns of another task, at most STEP_S per step, all of them in the end; and a step
    stops as soon as the tables are no longer settled (a rebalance)."""
    syncer, read_model = make(1_000)
    most_between_turns = 0
    done = False

    async def other_task() -> None:
        nonlocal most_between_turns
        seen = read_model.pending
        while not done:
            await asyncio.sleep(0)
            most_between_turns = max(most_between_turns, read_model.pending - seen)
            seen = read_model.pending

    watcher = asyncio.ensure_future(other_task())
    steps = []
    for _ in range(4):
        steps.append(await syncer.step({0, 1, 2, 3}))
        await asyncio.sleep(0)  # the flush timer's interval
    done = True
    await watcher
    assert most_between_turns <= resync.SLICE_S / 0.001 + 16
    assert steps[0] <= resync.STEP_S / 0.001 + 16
    assert sum(steps) == 1_000
    assert read_model.pending == 1_000
    syncer.restart("redis_lost")
    assert await syncer.step({0, 1, 2, 3}, settled=lambda: False) == 0
    assert syncer.copying == [0, 1, 2, 3]
