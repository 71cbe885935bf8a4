"""The due-timer index built in slices: exact while partial (no timer lost or fired
twice, whatever the agent writes and fires between slices), and the record's due time
read without decoding the state equals the decoded state's."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import Rules
from scorer.core.handoff_loop import next_due
from scorer.core.lead_state import LeadState
from scorer.core.timers import HandoffLoop, Timer
from scorer.stream.codecs import LEAD_CODEC, StateCodec, compress, lead_next_due
from scorer.stream.partitioning import owner_partition
from scorer.stream.state_cache import StateCache
from scorer.stream.timer_index import TimerIndexBuilder
from scorer.stream.timers import DueIndex
from tests.unit.stream.test_state_cache import Event, Table

# A state here is a lead's due times (sorted), as `LeadState.timers` is.
DUES: StateCodec[tuple[float, ...]] = StateCodec(
    lambda dues: {"dues": list(dues)}, lambda record: tuple(record["dues"])
)
KEYS = [f"k{i}".encode() for i in range(200) if owner_partition(f"k{i}".encode(), 4) == 0][:24]


def _first(dues: tuple[float, ...]) -> float | None:
    return dues[0] if dues else None


def _builder(table: Table) -> tuple[TimerIndexBuilder[Any], StateCache[Any]]:
    cache: StateCache[Any] = StateCache(table, DUES, partitions=4, decoded_max=4)
    ticks = iter(range(10**9))
    builder: TimerIndexBuilder[Any] = TimerIndexBuilder(
        index=DueIndex(), states=cache, slice_s=0.5, clock=lambda: float(next(ticks)),
        due_of_value=lambda raw: _first(DUES.decode(raw)), due_of_state=_first,
    )  # fmt: skip
    return builder, cache


step = st.one_of(
    st.tuples(st.just("slice")),
    st.tuples(
        st.just("put"), st.sampled_from(KEYS), st.lists(st.integers(0, 50), max_size=3, unique=True)
    ),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("tick"), st.integers(0, 50)),
    st.tuples(st.just("read"), st.sampled_from(KEYS)),
)


@settings(max_examples=300, deadline=None)
@given(
    initial=st.dictionaries(
        st.sampled_from(KEYS), st.lists(st.integers(0, 50), max_size=3, unique=True)
    ),
    steps=st.lists(step, max_size=40),
)
def test_a_partial_index_loses_no_timer_and_fires_none_twice(
    initial: dict[bytes, list[int]], steps: list[tuple[Any, ...]]
) -> None:
    """The agent's writes (`put` then `set`, as `_finish` does), checkpoints, ticks
    (pop what is due, fire it from the newest state) and reads interleave with the
    build's slices (each a few keys here). Once built, every pending due time has a
    wake-up at or before it, every timer fires in the end, and none fires twice."""
    table = Table()
    for key, dues in initial.items():
        table[key] = DUES.encode(tuple(sorted(float(d) for d in dues)))
    builder, cache = _builder(table)
    index = builder.index
    fired: list[tuple[bytes, float]] = []

    def tick(now: float) -> None:
        builder.advance(0)
        for key in index.pop_due(0, now):
            state = cache.get(key)
            if state is None:
                continue
            due_now = tuple(d for d in state if d <= now)
            if not due_now:
                index.set(0, key, _first(state))
                continue
            fired.extend((key, d) for d in due_now)
            rest = tuple(d for d in state if d > now)
            cache.put(key, rest, Event("tick", []))  # type: ignore[arg-type]
            index.set(0, key, _first(rest))

    clock = 0
    for kind, *args in steps:
        if kind == "slice" and index.is_built(0) and not builder.is_complete(0):
            builder._slice(builder._builds[0])
        elif kind == "put":
            key, dues = args
            state = tuple(sorted(float(clock + 1 + d) for d in dues))  # due later than now
            cache.put(key, state, Event("e", []))  # type: ignore[arg-type]
            index.set(0, key, _first(state))
        elif kind == "checkpoint":
            cache.write_changes()
        elif kind == "tick":
            clock = max(clock, args[0])
            tick(float(clock))
        elif kind == "read":
            cache.get(args[0])
    builder.advance(0)
    while not builder.is_complete(0):
        builder._slice(builder._builds[0])
    wake_at = index._wake_at[0]
    for key in KEYS:
        state = cache.get(key)
        if state:
            assert wake_at.get(key, float("inf")) <= state[0], (key, state, wake_at.get(key))
    assert len(fired) == len(set(fired))
    tick(1e9)
    assert all(not cache.get(key) for key in KEYS), "a timer never fired"


def test_the_due_time_read_from_a_record_is_the_decoded_states() -> None:
    rules = Rules(version="t-1")
    timers = (
        Timer(300.0, "sla", "mql", 1, 10.0, "x"),
        Timer(120.0, "inactivity", "", 0, 10.0, "y"),
    )
    for loop in (HandoffLoop(), HandoffLoop(timers=tuple(sorted(timers)))):
        state = LeadState.new("L1", rules)._replace(loop=loop)
        for value in (LEAD_CODEC.encode(state), orjson.dumps(state.to_record())):
            assert lead_next_due(value) == next_due(LEAD_CODEC.decode(value))
    # Written unsorted (by hand): still the earliest.
    record = LeadState.new("L1", rules).to_record()
    record["timers"] = [t.to_list() for t in timers]
    assert lead_next_due(compress(orjson.dumps(record))) == 120.0
