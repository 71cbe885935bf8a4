"""The worker's garbage-collector tuning (scorer/stream/gc_tuning.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from scorer.stream import gc_tuning


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_startup_objects_are_frozen_and_young_collections_come_less_often() -> None:
    gc.unfreeze()
    made_at_startup = [[n] for n in range(1000)]  # containers alive when the worker starts
    gc_tuning.tune_for_worker()
    assert gc.get_freeze_count() >= len(made_at_startup)
    assert gc.get_threshold() == (
        gc_tuning.GEN0_THRESHOLD, gc_tuning.GEN1_THRESHOLD, gc_tuning.GEN2_THRESHOLD,
    )  # fmt: skip
    assert gc_tuning.GEN0_THRESHOLD > 700  # CPython's default


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_startup_are_still_collected() -> None:
    gc_tuning.tune_for_worker()

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    assert gone() is None
