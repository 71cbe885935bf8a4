"""The clock a partition's timers fire by: the wall clock once caught up, else the event
time every input topic still waiting has reached (the minimum over them)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from scorer.stream.handlers import ScorerContext

NOW = 1_000_000.0
WEB, FEEDBACK = "leads.web-events.v1", "leads.sales-feedback.v1"


def _clock(waiting: dict[str, int], reached: dict[str, float], scored_ago_s: float = 0.1) -> float:
    ctx = SimpleNamespace(
        scored_at_by_partition={0: NOW - scored_ago_s},
        backlog=lambda partition: waiting,
        event_time_by_partition={0: max(reached.values(), default=NOW)},
        event_time_by_input={(topic, 0): t for topic, t in reached.items()},
    )
    return ScorerContext.partition_clock(ctx, 0, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("waiting", "reached", "scored_ago_s", "expected"),
    [
        # caught up: the wall clock
        ({}, {WEB: NOW - 500, FEEDBACK: NOW - 10}, 0.1, NOW),
        # idle with a backlog reported (a stale end offset): the wall clock
        ({WEB: 3}, {WEB: NOW - 500}, 5.0, NOW),
        # the feedback topic read ahead, web still waiting: web's time holds the clock
        ({WEB: 40}, {WEB: NOW - 500, FEEDBACK: NOW - 10}, 0.1, NOW - 500),
        ({WEB: 40, FEEDBACK: 2}, {WEB: NOW - 500, FEEDBACK: NOW - 900}, 0.1, NOW - 900),
        # a waiting topic not read at all yet: nothing is due
        ({WEB: 40}, {FEEDBACK: NOW - 10}, 0.1, float("-inf")),
    ],
)
def test_partition_clock(
    waiting: dict[str, int], reached: dict[str, float], scored_ago_s: float, expected: float
) -> None:
    assert _clock(waiting, reached, scored_ago_s) == expected


# -- what counts as waiting: messages the lead agent has not handled yet --------------------------


class _Consumer:
    """Faust's consumer as input_backlog sees it: assignment, end offsets, and the
    offsets it read up to (handed to the stream, maybe not handled yet) and started from."""

    def __init__(self, highwater: int | None, read: int | None, committed: int | None) -> None:
        self.tp = TP(WEB, 0)
        self._highwater, self._read_offset = highwater, {self.tp: read}
        self._committed_offset = {self.tp: committed}

    def assignment(self) -> set[Any]:
        return {self.tp}

    def highwater(self, tp: Any) -> int | None:
        return self._highwater


@pytest.mark.parametrize(
    ("highwater", "read", "committed", "handled_up_to", "expected"),
    [
        # Faust read all 40 into the stream's buffer, the agent handled 10: 30 wait
        (40, 39, 0, 10, {WEB: 30}),
        # a batch taken whole (read) with its first message still being scored: all wait
        (3, 2, 0, None, {WEB: 3}),
        # nothing handled since a restart at the committed offset 25
        (40, 39, 25, None, {WEB: 15}),
        # every message handled: none wait
        (40, 39, 0, 40, {}),
        # not fetched yet: what waits is unknown
        (None, None, None, None, {WEB: 1}),
    ],
)
def test_input_backlog_counts_messages_not_handled_yet(
    highwater: int | None,
    read: int | None,
    committed: int | None,
    handled_up_to: int | None,
    expected: dict[str, int],
) -> None:
    from scorer.stream.agents import input_backlog

    consumer = _Consumer(highwater, read, committed)
    ctx = SimpleNamespace(
        lead_events=SimpleNamespace(topics={WEB}),
        timer_ticks=SimpleNamespace(get_topic_name=lambda: "leads.timer-ticks.v1"),
        handled_up_to={} if handled_up_to is None else {(WEB, 0): handled_up_to},
    )
    app = SimpleNamespace(consumer=consumer)
    assert input_backlog(app, ctx, 0) == expected  # type: ignore[arg-type]
