"""State caches and checkpoints: reads see the newest state, each changed key is written
once per checkpoint, and a checkpoint acknowledges events only after writing states."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorer.stream.checkpointer import Checkpointer
from scorer.stream.codecs import StateCodec
from scorer.stream.state_cache import StateCache

CODEC: StateCodec[int] = StateCodec(lambda n: {"n": n}, lambda record: record["n"])


class Table(dict[bytes, bytes]):
    """A Faust table as far as the cache uses it, counting writes and reads."""

    def __init__(self, log: list[str] | None = None) -> None:
        super().__init__()
        self.log = log if log is not None else []
        self.reads = 0

    def get(self, key: bytes, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.log.append(f"write {key.decode()}")
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.log.append(f"delete {key.decode()}")
        super().__delitem__(key)


@dataclass
class Event:
    """A Faust event as far as the checkpoint acknowledges it."""

    name: str
    log: list[str]
    refcount: int = 1  # the stream's own reference, released by take_events
    message: Any = None
    app: Any = field(default_factory=lambda: SimpleNamespace(sensors=_Sensors()))

    def __post_init__(self) -> None:
        self.message = SimpleNamespace(incref=self._incref, tp=("t", 0), offset=0)

    def _incref(self) -> None:
        self.refcount += 1

    def ack(self) -> bool:
        self.refcount -= 1
        if self.refcount == 0:
            self.log.append(f"ack {self.name}")
            return True
        return False


class _Sensors:
    def on_message_out(self, *args: Any) -> None:
        return None


def _cache(table: Table | None = None) -> StateCache[int]:
    return StateCache(table if table is not None else Table(), CODEC, partitions=4)


# (steps, what `get` answers per key afterwards, what the table holds after a checkpoint)
CASES = [
    pytest.param([("put", b"a", 1), ("put", b"a", 2)], {b"a": 2}, {b"a": b'{"n":2}'}, id="last-put-wins"),
    pytest.param([("put", b"a", 1), ("delete", b"a", None)], {b"a": None}, {}, id="put-then-delete"),
    pytest.param([("delete", b"a", None), ("put", b"a", 3)], {b"a": 3}, {b"a": b'{"n":3}'}, id="delete-then-put"),
    pytest.param([("put", b"a", 1), ("put", b"b", 2)], {b"a": 1, b"b": 2}, {b"a": b'{"n":1}', b"b": b'{"n":2}'}, id="two-keys"),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "reads", "written"), CASES)
def test_reads_see_changes_and_a_checkpoint_writes_the_last_state_per_key(
    steps: list[tuple[str, bytes, int | None]],
    reads: dict[bytes, int | None],
    written: dict[bytes, bytes],
) -> None:
    table = Table()
    cache = _cache(table)
    event = Event("e", [])
    for op, key, value in steps:
        if op == "put":
            assert value is not None
            cache.put(key, value, event)  # type: ignore[arg-type]
        else:
            cache.delete(key, event)  # type: ignore[arg-type]
    assert {key: cache.get(key) for key in reads} == reads
    assert table == {}, "nothing is written before the checkpoint"
    cache.write_changes()
    assert dict(table) == written
    assert {key: cache.get(key) for key in reads} == reads
    assert len(table.log) <= len(reads), "at most one write per key"


def test_a_recently_used_key_is_decoded_once_until_a_rebalance() -> None:
    table = Table()
    table[b"a"] = CODEC.encode(7)
    cache = _cache(table)
    assert [cache.get(b"a") for _ in range(3)] == [7, 7, 7]
    cache.write_changes()
    assert cache.get(b"a") == 7
    assert table.reads == 1
    cache.forget_decoded()  # a rebalance: the table may be restored under the cache
    assert cache.get(b"a") == 7
    assert table.reads == 2


def test_only_the_most_recently_used_keys_stay_decoded() -> None:
    table = Table()
    for key in (b"a", b"b", b"c"):
        table[key] = CODEC.encode(1)
    cache = StateCache(table, CODEC, partitions=4, decoded_max=2)
    cache.get(b"a"), cache.get(b"b"), cache.get(b"a"), cache.get(b"c")  # b is the oldest
    reads = table.reads
    cache.get(b"a"), cache.get(b"c")
    assert table.reads == reads
    cache.get(b"b")
    assert table.reads == reads + 1


def test_a_key_is_changed_until_the_checkpoint_writes_it() -> None:
    cache = _cache()
    cache.put(b"a", 1, Event("e", []))  # type: ignore[arg-type]
    assert cache.is_changed(b"a")
    assert not cache.is_changed(b"b")
    cache.write_changes()
    assert not cache.is_changed(b"a")


def test_a_written_state_stays_decoded() -> None:
    table = Table()
    cache = _cache(table)
    cache.put(b"a", 5, Event("e", []))  # type: ignore[arg-type]
    cache.write_changes()
    assert cache.get(b"a") == 5
    assert table.reads == 0


def test_a_miss_is_not_remembered() -> None:
    table = Table()
    cache = _cache(table)
    assert cache.get(b"a") is None
    table[b"a"] = CODEC.encode(1)  # e.g. a changelog recovery
    assert cache.get(b"a") == 1


def test_size_keys_and_items_include_changes_not_written_yet() -> None:
    table = Table()
    table[b"a"] = CODEC.encode(1)
    table[b"b"] = CODEC.encode(2)
    cache = _cache(table)
    event = Event("e", [])
    cache.put(b"c", 3, event)  # type: ignore[arg-type]
    cache.delete(b"a", event)  # type: ignore[arg-type]
    cache.put(b"b", 20, event)  # type: ignore[arg-type]
    assert len(cache) == 2
    assert sorted(cache.keys()) == [b"b", b"c"]
    assert sorted(cache.items()) == [(b"b", 20), (b"c", 3)]


def test_a_checkpoint_writes_states_before_it_acknowledges_the_events() -> None:
    log: list[str] = []
    cache = _cache(Table(log))
    checkpoints = Checkpointer((cache,), interval_s=1.0)
    events = [Event("e1", log), Event("e2", log)]
    checkpoints.hold(events)  # type: ignore[arg-type]
    for event in events:
        event.ack()  # take_events' own ack, when the agent asks for the next batch
    assert log == [], "held events are not acknowledged by take_events"
    cache.put(b"a", 1, events[1])  # type: ignore[arg-type]
    checkpoints.finished(events)  # type: ignore[arg-type]
    assert checkpoints.pending
    asyncio.run(checkpoints.checkpoint())
    assert log == ["write a", "ack e1", "ack e2"]
    assert not checkpoints.pending


def test_a_checkpoint_is_due_after_its_interval() -> None:
    now = [100.0]
    checkpoints = Checkpointer((), interval_s=2.0, clock=lambda: now[0], _last=100.0)
    assert not checkpoints.due()
    now[0] = 102.0
    assert checkpoints.due()
    asyncio.run(checkpoints.checkpoint())
    assert not checkpoints.due()


_KEYS = st.sampled_from([b"a", b"b", b"c"])
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _KEYS, st.integers(0, 9)),
        st.tuples(st.just("delete"), _KEYS, st.none()),
        st.tuples(st.just("checkpoint"), st.none(), st.none()),
        # A checkpoint in slices: takes the changes, then writes one key at a time.
        st.tuples(st.just("take"), st.none(), st.none()),
        st.tuples(st.just("write_one"), st.none(), st.none()),
        # The broker acknowledges every record handed over (a held writer's).
        st.tuples(st.just("acknowledge"), st.none(), st.none()),
    ),
    max_size=40,
)


@dataclass
class HeldChangelog:
    """A table writer like the bulk one: records reach `table` once acknowledged (at
    the next flush), in order."""

    table: Table
    in_flight: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def write(self, records: Any) -> None:
        self.in_flight.extend(records)

    async def send(self) -> None:
        return None

    async def flush(self) -> None:
        for key, value in self.in_flight:
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value
        self.in_flight.clear()


@pytest.mark.parametrize("held", [False, True], ids=["at-once", "after-the-ack"])
@given(steps=_STEPS)
def test_the_cache_reads_like_a_dict_and_the_table_holds_it_after_each_checkpoint(
    held: bool, steps: list[tuple[str, bytes | None, int | None]]
) -> None:
    table = Table()
    held_changelog = HeldChangelog(table) if held else None
    cache = StateCache(table, CODEC, partitions=4, decoded_max=1, writer=held_changelog)
    model: dict[bytes, int] = {}
    handed: dict[bytes, int] | None = {}  # the states of the last whole checkpoint
    event = Event("e", [])
    loop = asyncio.new_event_loop()
    try:
        for op, key, value in steps:
            if op == "checkpoint":
                writes, before = len(table.log), dict(table)
                changed = cache.changed
                cache.write_changes()
                assert len(table.log) - writes <= changed, "one write per changed key at most"
                handed = dict(model)
                if held:
                    assert dict(table) == before, "nothing in the table before the ack"
                else:
                    assert dict(table) == {k: CODEC.encode(v) for k, v in handed.items()}
            elif op == "acknowledge":
                loop.run_until_complete(cache.changes_acknowledged())
                if handed is not None and not cache.taken:
                    assert dict(table) == {k: CODEC.encode(v) for k, v in handed.items()}
            elif op == "take":
                cache.take_changes()
                handed = None
            elif op == "write_one":
                cache.write_taken(until=0.0, clock=lambda: 1.0)  # past the slice at once
                handed = None
            elif op == "put":
                assert key is not None
                assert value is not None
                cache.put(key, value, event)  # type: ignore[arg-type]
                model[key] = value
            else:
                assert key is not None
                cache.delete(key, event)  # type: ignore[arg-type]
                model.pop(key, None)
            assert {k: cache.get(k) for k in (b"a", b"b", b"c")} == {
                k: model.get(k) for k in (b"a", b"b", b"c")
            }
            assert len(cache) == len(model)
            assert dict(cache.items()) == model
            assert {
                k: s for p in range(4) for k, raw, s in cache.partition_records(p)
                if s is not None or raw is not None
            }.keys() == model.keys()  # fmt: skip
    finally:
        loop.close()


class Clock:
    """A clock that moves `step` seconds every time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _changed_in_batch(
    cache: StateCache[int], keys: list[bytes], log: list[str], name: str
) -> Event:
    event = Event(name, log)
    for key in keys:
        cache.put(key, 1, event)  # type: ignore[arg-type]
    return event


def test_a_checkpoint_in_slices_lets_batches_in_and_acknowledges_after_its_writes() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        cache = _cache(Table(log))
        # Every clock read is 2 ms: a slice of 5 ms writes about one key.
        checkpoints = Checkpointer((cache,), 1.0, clock=Clock(0.002), slice_s=0.005)
        first = _changed_in_batch(cache, [b"a", b"b", b"c"], log, "first")
        checkpoints.hold([first])  # type: ignore[list-item]
        first.ack()  # take_events' own
        checkpoints.finished([first])  # type: ignore[list-item]

        async def a_batch_meanwhile() -> None:  # runs at the first slice's end
            log.append("batch")
            second = _changed_in_batch(cache, [b"a", b"d"], log, "second")  # newer a: next time
            assert cache.get(b"c") == 1, "a change being written is still read"
            checkpoints.hold([second])  # type: ignore[list-item]
            second.ack()
            checkpoints.finished([second])  # type: ignore[list-item]

        await asyncio.gather(checkpoints.checkpoint_in_slices(), a_batch_meanwhile())
        assert cache.is_changed(b"a")
        assert cache.is_changed(b"d")
        await checkpoints.checkpoint()
        return log

    log = asyncio.run(scenario())
    assert log.index("batch") < log.index("write c"), "the batch ran between slices"
    assert log.index("ack first") > log.index("write c"), "acknowledged after every write"
    assert log[log.index("ack first") :] == ["ack first", "write a", "write d", "ack second"]


def test_a_whole_checkpoint_during_one_in_slices_writes_the_rest_in_order() -> None:
    async def scenario() -> tuple[list[str], Table]:
        log: list[str] = []
        table = Table(log)
        cache = _cache(table)
        checkpoints = Checkpointer((cache,), 1.0, clock=Clock(0.002), slice_s=0.005)
        first = _changed_in_batch(cache, [b"a", b"b", b"c"], log, "first")
        checkpoints.hold([first])  # type: ignore[list-item]
        first.ack()
        checkpoints.finished([first])  # type: ignore[list-item]

        async def rebalance_meanwhile() -> None:  # runs at the first slice's end
            cache.put(b"c", 2, first)  # type: ignore[arg-type]
            await checkpoints.checkpoint()  # Faust waits for every acknowledgement
            log.append("rebalanced")

        await asyncio.gather(checkpoints.checkpoint_in_slices(), rebalance_meanwhile())
        return log, table

    log, table = asyncio.run(scenario())
    assert log.count("write c") == 2, "the taken c, then the newer one"
    assert table[b"c"] == CODEC.encode(2), "the newest c is the last record"
    assert log.index("ack first") < log.index("rebalanced"), "the whole one acknowledged it"
    assert log.count("ack first") == 1


def test_hand_off_outputs_go_out_in_order_and_a_checkpoint_waits_for_their_acks() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        cache = _cache(Table(log))
        checkpoints = Checkpointer((cache,), 1.0)
        broker_acks = asyncio.Event()

        async def publish(name: str) -> None:
            log.append(f"send {name}")
            await broker_acks.wait()
            log.append(f"acked {name}")

        await checkpoints.publish_then(publish("alert 1"))
        _changed_in_batch(cache, [b"a"], log, "first")  # its state, at once
        log.append("next batch scored")
        with pytest.raises(RuntimeError):
            await checkpoints.checkpoint()  # a whole checkpoint never runs ahead of the acks
        second_batch = asyncio.ensure_future(checkpoints.publish_then(publish("alert 2")))
        checkpointing = asyncio.ensure_future(checkpoints.checkpoint_in_slices())
        await asyncio.sleep(0.01)
        log.append("broker answers")
        broker_acks.set()
        await second_batch
        _changed_in_batch(cache, [b"b"], log, "second")
        await checkpointing
        await checkpoints.checkpoint_now()
        return log

    assert asyncio.run(scenario()) == [
        "next batch scored",  # while the first batch's alert is in flight
        "send alert 1",
        "broker answers",
        "acked alert 1",
        "send alert 2",  # the next batch's outputs after the first ones' acknowledgement
        "acked alert 2",  # the checkpoint waits for every output started before it takes
        "write a",
        "write b",
    ]


@dataclass
class SlowChangelog:
    """A table writer whose changelog records are acknowledged when the test says so."""

    log: list[str]
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    table: dict[bytes, bytes] = field(default_factory=dict)

    def write(self, records: Any) -> None:
        for key, value in records:
            self.log.append(f"write {key.decode()}")
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value

    async def send(self) -> None:
        self.log.append("hand over")

    async def flush(self) -> None:
        await self.send()
        await self.acknowledged.wait()
        self.log.append("changelog acknowledged")


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "in-slices"])
def test_events_are_acknowledged_only_after_the_broker_acknowledged_the_changelog(
    whole: bool,
) -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        changelog = SlowChangelog(log)
        cache = StateCache(Table(), CODEC, partitions=4, writer=changelog)
        checkpoints = Checkpointer((cache,), 1.0)
        first = _changed_in_batch(cache, [b"a"], log, "first")
        checkpoints.hold([first])  # type: ignore[list-item]
        first.ack()
        checkpoints.finished([first])  # type: ignore[list-item]
        checkpointing = asyncio.ensure_future(
            checkpoints.checkpoint_now() if whole else checkpoints.checkpoint_in_slices()
        )
        for _ in range(20):
            await asyncio.sleep(0)
        assert cache.get(b"a") == 1, "reads see the state while its record is in flight"
        assert not checkpointing.done()
        log.append("broker answers")
        changelog.acknowledged.set()
        await checkpointing
        return log

    assert asyncio.run(scenario()) == [
        "write a", "hand over", "broker answers", "changelog acknowledged", "ack first",
    ]  # fmt: skip
