"""The clock a partition's timers fire by: the wall clock once caught up, else the event
time every input topic still waiting has reached (the minimum over them)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

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
