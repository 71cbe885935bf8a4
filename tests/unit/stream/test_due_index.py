"""The per-partition index of due timers: each due lead once, stale entries skipped."""

from __future__ import annotations

from scorer.stream.timers import DueIndex


def built(*entries: tuple[bytes, float], partition: int = 0) -> DueIndex:
    index = DueIndex()
    index.build(partition, entries)
    return index


def test_pops_only_what_is_due_in_due_order() -> None:
    index = built((b"a", 30.0), (b"b", 10.0), (b"c", 20.0))
    assert index.pop_due(0, 9.9) == []
    assert index.pop_due(0, 20.0) == [b"b", b"c"]
    assert index.pop_due(0, 100.0) == [b"a"]
    assert index.pop_due(0, 100.0) == []


def test_a_due_time_moved_earlier_wakes_once_at_the_earlier_time() -> None:
    index = built((b"a", 50.0))
    index.set(0, b"a", 10.0)
    assert index.pop_due(0, 10.0) == [b"a"]
    assert index.pop_due(0, 50.0) == []


def test_a_due_time_moved_later_keeps_the_earlier_wake_up_and_adds_nothing() -> None:
    """Each activity re-arms a lead's inactivity timer; the heap must not grow with it."""
    index = built((b"a", 10.0))
    for later in range(11, 1000):
        index.set(0, b"a", float(later))
    assert len(index._heaps[0]) == 1
    assert index.pop_due(0, 10.0) == [b"a"]  # the caller re-checks and sets the real due


def test_setting_the_same_due_twice_fires_once() -> None:
    index = built()
    index.set(0, b"a", 5.0)
    index.set(0, b"a", 5.0)
    assert index.pop_due(0, 5.0) == [b"a"]
    assert index.pending() == 0


def test_unbuilt_partitions_ignore_writes_until_built_from_the_table() -> None:
    index = DueIndex()
    index.set(3, b"a", 1.0)
    assert not index.is_built(3)
    assert index.pop_due(3, 10.0) == []


def test_forgotten_partitions_are_rebuilt() -> None:
    index = built((b"a", 1.0), partition=2)
    index.forget({2})
    assert not index.is_built(2)
    assert index.pop_due(2, 10.0) == []
