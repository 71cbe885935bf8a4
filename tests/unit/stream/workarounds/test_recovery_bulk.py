"""Canary of recovery_bulk.py: Faust's recovery still calls the step the bulk read follows,
its stores apply `ChangelogRecord`s as they apply Faust's changelog events, and the
scorer's tables are read in bulk. (The read itself runs on a real broker:
tests/integration/test_bulk_recovery.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.tables.recovery import Recovery, ServiceStopped
from faust.types import TP
from mode.utils.times import want_seconds

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.recovery import SeekFirstRecovery
from scorer.stream.workarounds.recovery_bulk import (
    BulkReadRecovery,
    ChangelogRecord,
    _bulk_readable,
)

# sha256 of faust-streaming 0.15.3's `Recovery._restart_recovery` source. The bulk read
# relies on its order: highwaters, then `_build_offsets(..., active_offsets, "active")`
# in `_wait`, then `need_recovery()` on those offsets. When it changes, check that order.
FAUST_RESTART_RECOVERY_SHA256 = "6bd8a8558a2dffe4c60b8150f23d721baa6b3d658367f911a3ad2187e20efc6f"

RECOVERY_FIELDS = (
    "active_offsets", "active_highwaters", "tp_to_table", "_active_events_received_at",
    "_last_flush_at", "signal_recovery_start",
)  # fmt: skip


def _app(tmp_path: Path, store: str = "memory://", **overrides: Any) -> Any:
    settings = load_settings(
        {}, partitions=2, data_dir=tmp_path, topic_prefix="unit.", store=store, **overrides
    )
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    return app


def test_faust_s_recovery_runs_the_steps_the_bulk_read_follows() -> None:
    source = inspect.getsource(Recovery.__dict__["_restart_recovery"].fun)
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_RESTART_RECOVERY_SHA256
    for name, params in {
        "_build_offsets": ["self", "consumer", "tps", "destination", "title"],
        "_wait": ["self", "coro", "timeout"],
        "on_partitions_revoked": ["self", "revoked"],
    }.items():
        assert list(inspect.signature(getattr(Recovery, name)).parameters) == params, name
    assert issubclass(SeekFirstRecovery, BulkReadRecovery)


async def test_recovery_has_the_fields_the_bulk_read_sets(tmp_path: Path) -> None:
    recovery = _app(tmp_path).tables.recovery
    for name in RECOVERY_FIELDS:
        assert hasattr(recovery, name), name


async def test_the_scorer_s_tables_are_read_in_bulk(tmp_path: Path) -> None:
    app = _app(tmp_path)
    assert app.bulk_recovery is not None
    tables = list(app.tables.values())
    assert {t.name for t in tables} == {"lead-state", "account-state", "visitor-state"}
    assert all(_bulk_readable(t) for t in tables)


async def test_the_setting_falls_back_to_faust_s_path(tmp_path: Path) -> None:
    assert _app(tmp_path, bulk_recovery=False).bulk_recovery is None


async def test_the_read_is_not_bound_by_faust_s_request_timeout(tmp_path: Path) -> None:
    recovery: Any = _app(tmp_path).tables.recovery
    # Faust ends a step that outlives its timeout as if the service stopped ...
    with pytest.raises(ServiceStopped):
        await recovery._wait(asyncio.sleep(0.2), timeout=want_seconds(0.01))
    # ... and the step after `_build_offsets` for the actives has no timeout.
    recovery._untimed_next_wait = True
    await recovery._wait(asyncio.sleep(0.05), timeout=want_seconds(0.01))
    assert not recovery._untimed_next_wait


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
async def test_stores_apply_changelog_records_as_faust_s_events(tmp_path: Path, store: str) -> None:
    app = _app(tmp_path, store=store)
    table = app.tables["lead-state"]
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    records = [
        ChangelogRecord(tp, 0, b"a", b"1"),
        ChangelogRecord(tp, 1, b"b", b"2"),
        ChangelogRecord(tp, 2, b"a", b"3"),  # the last record of a key wins
        ChangelogRecord(tp, 3, b"c", b"4"),
        ChangelogRecord(tp, 4, b"c", None),  # a tombstone deletes it
    ]
    table.apply_changelog_batch(records[:2])
    table.apply_changelog_batch(records[2:])
    data = table.data
    assert {k: data[k] for k in (b"a", b"b")} == {b"a": b"3", b"b": b"2"}
    assert b"c" not in data
    if store == "rocksdb://":
        assert table.persisted_offset(tp) == 4
        data.set_persisted_offset(tp, 6)  # the end, past control records
        assert table.persisted_offset(tp) == 6
        for db in data._dbs.values():
            db.close()


# -- the read loop, on a stand-in for its consumer (the real one: the integration test) --


class _Reader:
    """Hands out `fetches` (per partition: records and the position after them), one per
    `getmany`; `on_fetch[i]` runs before fetch i is handed out."""

    def __init__(self, fetches: list[dict[TP, tuple[list[Any], int]]], on_fetch: Any) -> None:
        self.fetches, self.on_fetch = fetches, on_fetch
        self.positions: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.stopped = False
        self.fetched = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, tps: list[Any]) -> None:
        return None

    def seek(self, tp: Any, offset: int) -> None:
        self.positions[TP(*tp)] = offset

    async def getmany(self, timeout_ms: int) -> dict[Any, list[Any]]:
        if not self.fetches:
            return {}
        self.on_fetch.get(self.fetched, lambda: None)()
        self.fetched += 1
        fetch = self.fetches.pop(0)
        for tp, (_, position) in fetch.items():
            self.positions[tp] = position
        return {tp: records for tp, (records, _) in fetch.items() if tp not in self.paused}

    async def position(self, tp: Any) -> int:
        return self.positions[TP(*tp)]

    def pause(self, tp: Any) -> None:
        self.paused.add(TP(*tp))


def _records(*pairs: tuple[int, bytes, bytes | None]) -> list[Any]:
    return [SimpleNamespace(offset=o, key=k, value=v) for o, k, v in pairs]


async def _recover(
    tmp_path: Path, fetches: list[dict[TP, tuple[list[Any], int]]], ends: dict[int, int],
    on_fetch: dict[int, Any] | None = None,
) -> tuple[Any, Any, _Reader]:  # fmt: skip
    app = _app(tmp_path)
    recovery: Any = app.tables.recovery
    table = app.tables["lead-state"]
    topic = table.changelog_topic.get_topic_name()
    reader = _Reader(
        [{TP(topic, p): v for p, v in f.items()} for f in fetches],  # type: ignore[misc]
        {i: (lambda h=h: h(recovery, topic)) for i, h in (on_fetch or {}).items()},
    )
    recovery._new_reader = lambda options, count: reader
    for partition, end in ends.items():
        tp = TP(topic, partition)
        recovery.tp_to_table[tp] = table
        recovery.active_highwaters[tp] = end
        recovery.active_offsets[tp] = -1

    async def faust_step() -> None:
        return None

    tps = {TP(topic, p) for p in ends}
    await recovery._bulk_read_after(faust_step(), tps, app.bulk_recovery)
    return recovery, table, reader


async def test_a_read_applies_whole_fetches_up_to_the_highwater(tmp_path: Path) -> None:
    fetches = [
        {0: (_records((0, b"a", b"1"), (1, b"b", b"2")), 2), 1: (_records((0, b"x", b"9")), 1)},
        # The last record of a key wins, a tombstone deletes; past the highwater: not read.
        {0: (_records((2, b"a", b"3"), (3, b"b", None), (4, b"late", b"5")), 5)},
        # Partition 1's last offsets hold no record (control records): position past its end.
        {1: ([], 3)},
    ]
    recovery, table, reader = await _recover(tmp_path, fetches, {0: 3, 1: 2})
    assert dict(table.data.data) == {b"a": b"3", b"x": b"9"}
    topic = table.changelog_topic.get_topic_name()
    assert recovery.active_offsets == {TP(topic, 0): 3, TP(topic, 1): 2}
    assert not recovery.need_recovery()  # Faust's path finds nothing left
    assert recovery.bulk_records_read == 5
    assert reader.stopped


async def test_a_partition_revoked_during_the_read_is_not_written_again(tmp_path: Path) -> None:
    def revoke_partition_1(recovery: Any, topic: str) -> None:
        recovery.on_partitions_revoked({TP(topic, 1)})

    fetches = [
        {0: (_records((0, b"a", b"1")), 1), 1: (_records((0, b"x", b"1")), 1)},
        {0: (_records((1, b"b", b"2")), 2), 1: (_records((1, b"y", b"2")), 2)},
    ]
    recovery, table, _ = await _recover(
        tmp_path, fetches, {0: 1, 1: 1}, on_fetch={1: revoke_partition_1}
    )
    topic = table.changelog_topic.get_topic_name()
    assert dict(table.data.data) == {b"a": b"1", b"b": b"2", b"x": b"1"}
    # Partition 1 keeps the offset of what was applied: a later recovery continues there.
    assert recovery.active_offsets == {TP(topic, 0): 1, TP(topic, 1): 0}
    assert recovery.bulk_records_read == 3
