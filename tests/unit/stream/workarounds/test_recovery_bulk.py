"""Canary of recovery_bulk.py: Faust's recovery still calls the step the bulk read follows,
its stores apply `ChangelogRecord`s as they apply Faust's changelog events, and the
scorer's tables are read in bulk. (The read itself runs on a real broker:
tests/integration/test_bulk_recovery.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
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
