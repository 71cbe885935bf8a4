"""Write a table key as part of a given event, outside that event's own step.

A store may shard by the current event's partition (RocksDB keeps one database per
partition), and Faust reads the event a table write belongs to from the context
variable `faust.streams._current_event`, which has no public setter (why stores read
it: faust-streaming PR #522). The scorer writes each changed key once per checkpoint,
after the batch's events were taken, so it names the key's own last event here.
Checked on faust-streaming 0.15.3; the canary fails when the context variable is gone
or `faust.current_event()` stops reading it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


@contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    """Within the block, `faust.current_event()` is `event`."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
