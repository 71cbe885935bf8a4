"""Table recovery that reads the changelogs in whole fetches, past Faust's per-record path.

faust-streaming 0.15.3 recovers a table partition record by record: its consumer thread
fetches the changelog, the consumer drains it into an `Event` per record, the changelog
queue hands them one by one to the recovery loop (recovery_loop.py batches that last
step), and the store applies them in buffers. Measured at 1M leads (1.1M records) that
path recovers ~3,000 records/s on this project's benchmark machine: 232 s to ready with
RocksDB (docs/benchmark.md), against a target of 60 s. Read in bulk, the same changelogs
were read in 17-24 s (~50,000-64,000 records/s into RocksDB), ready in 27-33 s.

This recovery reads each assigned active changelog partition itself, from the offset
Faust starts at (its persisted offset, or the earliest one) to the high watermark Faust
just measured, with a consumer of its own (aiokafka, no consumer group), and hands each
fetch's records to the table's own `apply_changelog_batch` (RocksDB: one `WriteBatch`
per partition, then the persisted offset Faust keeps in the database; the memory store:
its dict, deletes applied). Records are applied in offset order, so the last record of
a key wins and a tombstone deletes it, exactly as Faust's own path applies them. It then
sets Faust's offsets to the high watermark, so Faust's recovery finds nothing left to
read and does everything else itself (standby partitions, the switch to processing, the
stream offsets). Standby partitions are left to Faust (read after ready, in the
background). A table that decodes its changelog (key or value not raw bytes) or has an
`on_changelog_event` callback is left to Faust too.

Where it hooks in: Faust's `_restart_recovery` calls `_build_offsets(..., active_offsets,
"active")` inside `_wait(..., timeout=broker_request_timeout)` after building the
highwaters and before it asks `need_recovery()`. The read runs after Faust's
`_build_offsets` in that call; Faust's timeout (90 s by default, meant for a metadata
request) is lifted for it, while a new rebalance still cancels it as it cancels Faust's
steps (`_wait` returns at `signal_recovery_start`). A partition revoked during the read
(`on_partitions_revoked`, before the next assignment) is not written to again; what was
applied stays consistent, since each fetch's records and their offset are written
together, so the next recovery continues from there.

Upstream: recovery speed is faust-streaming #208 and robinhood/faust #466 (the
per-record path is unchanged since faust 1.x). Checked on faust-streaming 0.15.3 with
aiokafka 0.14.0 and rocksdict 0.3.29. The canary (tests/unit/stream/workarounds/
test_recovery_bulk.py) fails when Faust's recovery loop changes (its source's hash),
when a step it relies on loses its name, or when a store stops applying the records
this module hands it as Faust's events. Switched off by SCORER_BULK_RECOVERY=false.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from scorer.stream.workarounds.recovery_loop import BatchedSlurpRecovery

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class BulkReadOptions:
    """How the bulk reader connects: aiokafka connection options (admin.client_options)."""

    client: Mapping[str, Any]
    partition_fetch_bytes: int = 4 * 1024 * 1024


class ChangelogRecord:
    """One changelog record as Faust's stores read an `Event` in `apply_changelog_batch`
    (`event.key`, `event.value`, `event.message.{tp,partition,offset,key,value}`), for raw
    bytes tables, whose deserialized key and value are the record's."""

    __slots__ = ("key", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, offset: int, key: bytes | None, value: bytes | None) -> None:
        self.tp = tp
        self.partition = tp.partition
        self.offset = offset
        self.key = key
        self.value = value

    @property
    def message(self) -> ChangelogRecord:
        return self


@dataclass(slots=True)
class _Partition:
    tp: TP
    table: Any
    end: int  # the last offset to read (Faust's highwater: the end offset - 1)
    applied: int  # the last offset applied


class BulkReadRecovery(BatchedSlurpRecovery):
    """Faust's recovery with the active changelogs read in bulk (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._untimed_next_wait = False
        # Revocations so far, when each partition was last revoked, and how many there
        # had been when the latest assignment came: a read serving that assignment drops
        # a partition revoked after it (a new rebalance also cancels the read, but a
        # fetch may complete in between).
        self._revocations = 0
        self._revoked_at: dict[TP, int] = {}
        self._assigned_after = 0
        self.bulk_records_read = 0  # by the last bulk read
        self._dropped = 0  # partitions of the last bulk read left unread by a rebalance

    def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._revocations += 1
        for tp in revoked:
            self._revoked_at[tp] = self._revocations
        super().on_partitions_revoked(revoked)

    async def on_rebalance(self, *args: Any, **kwargs: Any) -> None:
        self._assigned_after = self._revocations
        await super().on_rebalance(*args, **kwargs)

    def _build_offsets(
        self, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> Coroutine[Any, Any, None]:
        faust_step = super()._build_offsets(consumer, tps, destination, title)
        options: BulkReadOptions | None = getattr(self.app, "bulk_recovery", None)
        if options is None or destination is not self.active_offsets:
            return faust_step
        # Called right before Faust's `_wait` of this step: see `_wait`.
        self._untimed_next_wait = True
        return self._bulk_read_after(faust_step, set(tps), options)

    async def _wait(self, coro: Any, timeout: Any = None) -> None:  # noqa: ASYNC109 (Faust's)
        if self._untimed_next_wait:
            self._untimed_next_wait = False
            timeout = None  # the bulk read: as long as it takes, unless a rebalance comes
        await super()._wait(coro, timeout=timeout)

    async def _bulk_read_after(
        self, faust_step: Coroutine[Any, Any, None], tps: set[TP], options: BulkReadOptions
    ) -> None:
        await faust_step
        self.bulk_records_read = self._dropped = 0
        partitions = self._partitions_to_read(tps)
        if not partitions:
            return
        started = time.monotonic()
        total = sum(p.end - p.applied for p in partitions.values())
        log.info(
            "Bulk recovery: reading %d changelog partitions, up to %d records",
            len(partitions), total,
        )  # fmt: skip
        try:
            read = await self._read(partitions, options, total, started)
        except Exception as exc:
            # What was applied stays (with its offsets); Faust's recovery reads the rest.
            log.warning(
                "Bulk recovery failed (%s: %s); Faust's recovery reads the rest",
                type(exc).__name__, exc,
            )  # fmt: skip
            return
        seconds = time.monotonic() - started
        self.bulk_records_read = read
        log.info(
            "Bulk recovery: read %d changelog records in %.1f s (%.0f records/s)%s",
            read, seconds, read / seconds if seconds > 0 else 0.0,
            f"; {self._dropped} partitions revoked before their end" if self._dropped else "",
        )  # fmt: skip

    def _partitions_to_read(self, tps: set[TP]) -> dict[TP, _Partition]:
        found: dict[TP, _Partition] = {}
        offsets, highwaters = self.active_offsets, self.active_highwaters
        skipped: set[str] = set()
        for tp in tps:
            table = self.tp_to_table.get(tp)
            end, applied = highwaters.get(tp), offsets.get(tp)
            if table is None or end is None or applied is None or end <= applied:
                continue
            if not _bulk_readable(table):
                skipped.add(tp.topic)
                continue
            found[tp] = _Partition(tp, table, end, applied)
        for topic in sorted(skipped):
            log.info("Bulk recovery: %s left to Faust's recovery (not a raw bytes table)", topic)
        return found

    def _new_reader(self, options: BulkReadOptions, partitions: int) -> Any:
        """A consumer of its own: no group, no commits, whole fetches."""
        return AIOKafkaConsumer(
            **options.client,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if self.app.in_transaction else "read_uncommitted",
            max_partition_fetch_bytes=options.partition_fetch_bytes,
            fetch_max_bytes=max(options.partition_fetch_bytes * partitions, 52428800),
        )

    async def _read(
        self, partitions: dict[TP, _Partition], options: BulkReadOptions, total: int, started: float
    ) -> int:
        reader = self._new_reader(options, len(partitions))
        read = 0
        last_progress = started
        assigned_after = self._assigned_after
        revoked_at = self._revoked_at
        await reader.start()
        try:
            reader.assign([TopicPartition(*tp) for tp in partitions])
            for tp, part in partitions.items():
                reader.seek(TopicPartition(*tp), part.applied + 1)
            while partitions:
                fetched = await reader.getmany(timeout_ms=1000)
                for client_tp, records in fetched.items():
                    found = partitions.get(TP(client_tp.topic, client_tp.partition))
                    if found is not None and revoked_at.get(found.tp, 0) <= assigned_after:
                        read += self._apply(found, records)
                        await asyncio.sleep(0)  # the web server and timers between partitions
                for tp in list(partitions):
                    client_tp = TopicPartition(*tp)
                    if revoked_at.get(tp, 0) > assigned_after:
                        self._dropped += 1  # revoked meanwhile: no longer ours to write
                    elif await reader.position(client_tp) <= partitions[tp].end:
                        continue
                    else:
                        self._finish(partitions[tp])
                    reader.pause(client_tp)
                    del partitions[tp]
                now = time.monotonic()
                if now - last_progress >= PROGRESS_EVERY_S:
                    last_progress = now
                    log.info(
                        "Bulk recovery: %d of %d changelog records read (%.0f/s)",
                        read, total, read / (now - started),
                    )  # fmt: skip
        finally:
            await reader.stop()
        return read

    def _apply(self, part: _Partition, records: list[Any]) -> int:
        """Apply a fetch's records of one partition (those up to its end) to its table."""
        tp, end, applied = part.tp, part.end, part.applied
        batch = [
            ChangelogRecord(tp, r.offset, r.key, r.value)
            for r in records
            if applied < r.offset <= end
        ]
        if not batch:
            return 0
        part.table.apply_changelog_batch(batch)
        part.applied = batch[-1].offset
        self.active_offsets[tp] = part.applied
        # What Faust's loop notes per record: its stall warnings read them.
        self._active_events_received_at[tp] = self._last_flush_at = time.monotonic()
        return len(batch)

    def _finish(self, part: _Partition) -> None:
        """The partition is read to its end: Faust's offsets (and RocksDB's persisted one)
        at the highwater, even when its last offsets held no record (control records)."""
        if part.applied < part.end:
            part.table.data.set_persisted_offset(part.tp, part.end)
            part.applied = part.end
        self.active_offsets[part.tp] = part.end


def _bulk_readable(table: Any) -> bool:
    """Whether the table's changelog records are its keys and values as they are (raw
    bytes: what `ChangelogRecord` hands the store) and nothing else listens to them."""
    return (
        table.key_serializer == "raw"
        and table.value_serializer == "raw"
        and table._on_changelog_event is None
    )


__all__ = ["BulkReadOptions", "BulkReadRecovery", "ChangelogRecord"]
