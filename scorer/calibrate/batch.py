"""Batch work without the cyclic garbage collector.

A replay leaves millions of small immutable objects alive (events, states, score
changes); every full collection walks all of them, so the cyclic collector's cost grows
with the history and it dominated the replay (9k events/s with it, 20k without, on
223k events). Reference counting still frees everything acyclic at once; what cycles
there are are collected when the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
