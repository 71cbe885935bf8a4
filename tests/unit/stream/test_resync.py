"""Copying newly assigned partitions' states to the read model, a chunk at a time."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from scorer.core import Event, EventKind, LeadState, apply_event
from scorer.rules import load_rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream import resync
from scorer.stream.partitioning import owner_partition
from scorer.stream.resync import ReadModelResync

RULES = load_rules(DEFAULT_RULES_FILE)


def lead(lead_id: str) -> LeadState:
    event = Event(
        event_id=f"{lead_id}-1", lead_id=lead_id, kind=EventKind.PAGE_VIEW,
        occurred_at=1_000.0, fields={"url": "/pricing"},
    )  # fmt: skip
    return apply_event(None, event, RULES, 1_000.0).state


def make(leads: int) -> tuple[ReadModelResync, RedisReadModel]:
    # Never flushed, so the client never connects: the staging is what is checked.
    read_model = RedisReadModel(
        Redis.from_url("redis://127.0.0.1:1/0"), "t:", ScorerMetrics.create(CollectorRegistry())
    )
    table = {f"lead-{i}".encode(): lead(f"lead-{i}") for i in range(leads)}
    return ReadModelResync(table, {}, RULES, read_model, 4, lambda: 2_000.0), read_model


def test_only_newly_assigned_partitions_are_copied_and_only_once() -> None:
    syncer, read_model = make(40)
    mine = {k for k in syncer.lead_table if owner_partition(k, 4) in {0, 2}}
    assert syncer.step({0, 2}) == len(mine)
    assert {f"lead-{i}".encode() for i in range(40) if f"lead-{i}" in read_model._leads} == mine
    assert syncer.step({0, 2}) == 0


def test_a_partition_regained_after_a_revocation_is_copied_again() -> None:
    syncer, _ = make(40)
    first = syncer.step({0, 1})
    syncer.step({0})
    assert syncer.step({0, 1}) == first - sum(
        1 for k in syncer.lead_table if owner_partition(k, 4) == 0
    )


def test_large_partitions_are_copied_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resync, "CHUNK", 7)
    syncer, read_model = make(20)
    assert [syncer.step({0, 1, 2, 3}) for _ in range(4)] == [7, 7, 6, 0]
    assert read_model.pending == 20
