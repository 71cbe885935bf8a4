"""Canary of recovery_loop.py: Faust's changelog loop is the one the batched copy follows,
and the batched loop applies queued records as Faust's does."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from faust.tables.recovery import Recovery

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.recovery import SeekFirstRecovery
from scorer.stream.workarounds.recovery_loop import BatchedSlurpRecovery

# sha256 of faust-streaming 0.15.3's `Recovery._slurp_changelogs` source. When it changes,
# compare the new loop with BatchedSlurpRecovery (or drop it if upstream batches now).
FAUST_SLURP_SHA256 = "7825c7e50f766d5ab0fd246b63420ea0dfcd732d005f1057cc9da656ff5d3967"


def test_faust_s_changelog_loop_is_the_one_the_batched_loop_follows() -> None:
    task: Any = Recovery.__dict__["_slurp_changelogs"]
    source = inspect.getsource(task.fun)
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_SLURP_SHA256


def test_the_scorer_s_recovery_runs_the_batched_loop_once() -> None:
    assert issubclass(SeekFirstRecovery, BatchedSlurpRecovery)
    assert (
        list(SeekFirstRecovery._tasks[SeekFirstRecovery._get_class_id()]).count(  # type: ignore[index]
            "_slurp_changelogs"
        )
        == 1
    )


class _Table:
    recovery_buffer_size = 3
    standby_buffer_size = 3

    def __init__(self) -> None:
        self.applied: list[list[int]] = []

    async def on_changelog_event(self, event: Any) -> None:
        return None

    def apply_changelog_batch(self, batch: list[Any]) -> None:
        self.applied.append([e.message.offset for e in batch])


def _event(tp: Any, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


async def test_queued_records_are_buffered_applied_and_ended_in_order(tmp_path: Path) -> None:
    settings = load_settings({}, partitions=1, data_dir=tmp_path, topic_prefix="unit.")
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    recovery: Any = SeekFirstRecovery(app, app.tables, loop=app.loop)
    table = _Table()
    tp = TopicPartition("x-changelog", 0)
    recovery.active_tps = {tp}
    recovery.tp_to_table = {tp: table}
    recovery.buffers = {table: []}
    recovery.active_highwaters = Counter({tp: 6})
    recovery.active_offsets = Counter({tp: -1})
    recovery._set_recovery_started()
    # A repeated offset (a re-fetch) is skipped, as Faust skips it.
    await recovery._take([_event(tp, o) for o in (0, 1, 2, 2, 3, 4, 5, 6)])
    assert table.applied == [[0, 1, 2], [3, 4, 5]]
    assert recovery.active_offsets[tp] == 6
    await recovery._after_batch()
    assert table.applied == [[0, 1, 2], [3, 4, 5], [6]]
    assert recovery.signal_recovery_end.is_set()
