"""Caps over sliding windows and once-only rules, defined in event-time order."""

from __future__ import annotations

import pytest

from scorer.core import Cap, EventKind, score_at
from scorer.core.engagement import CapEntry, reallocate
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, MINUTE, T0, ev, run

PAGE = EventKind.PAGE_VIEW


def _awards(updates: list) -> list[float]:  # type: ignore[type-arg]
    return [
        sum(
            c.points_awarded
            for c in u.changes
            if c.rule_id == "web.page" and c.note != "cap_shifted"
        )
        for u in updates
    ]


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([0, 1, 2], [1, 1, 1]),
        ([i * MINUTE for i in range(12)], [1] * 10 + [0, 0]),
        ([i * MINUTE for i in range(10)] + [DAY - 1], [1] * 10 + [0]),
        ([i * MINUTE for i in range(10)] + [DAY + 1], [1] * 10 + [1]),
        ([0] * 1, [1]),
    ],
    ids=["under-cap", "eleventh-view-capped", "window-edge-inside", "window-slides", "single"],
)
def test_page_views_at_most_10_points_per_24h(offsets: list[float], expected: list[float]) -> None:
    events = [ev(f"e{i:02d}", PAGE, T0 + off, url="/x") for i, off in enumerate(offsets)]
    _, updates = run(events)
    assert _awards(updates) == expected


def test_partial_award_when_cap_leaves_less_than_full_points() -> None:
    log: tuple[CapEntry, ...] = ()
    cap = Cap(10, DAY)
    awards = []
    for i in range(4):
        log, award, _ = reallocate(log, T0 + i, f"e{i}", 3.0, cap)
        awards.append(award)
    assert awards == [3, 3, 3, 1]


def test_negative_rule_cap_limits_magnitude() -> None:
    log: tuple[CapEntry, ...] = ()
    cap = Cap(20, 30 * DAY)
    awards = []
    for i in range(3):
        log, award, _ = reallocate(log, T0 + i, f"e{i}", -10.0, cap)
        awards.append(award)
    assert awards == [-10, -10, 0]


def test_late_event_takes_the_cap_from_a_later_one() -> None:
    """Events are ranked by event time: a late, earlier view gets the point, the last
    in-window view loses it, and that shift is reported with the loser's event id."""
    events = [ev(f"e{i:02d}", PAGE, T0 + 10 * MINUTE + i, url="/x") for i in range(10)]
    late = ev("late", PAGE, T0, url="/x")
    state, updates = run([*events, late])
    assert state is not None
    final = updates[-1]
    (own,) = [c for c in final.changes if c.event_id == "late"]
    (shift,) = [c for c in final.changes if c.note == "cap_shifted"]
    assert own.points_awarded == 1
    assert (shift.event_id, shift.points_awarded) == ("e09", -1)
    in_order, _ = run([late, *events])
    assert in_order is not None
    at = T0 + HOUR
    assert score_at(state, at, BASE_RULES).total == pytest.approx(
        score_at(in_order, at, BASE_RULES).total, abs=1e-9
    )


def test_once_only_rule_awards_first_event_only() -> None:
    _, updates = run(
        [
            ev("d1", EventKind.FORM_SUBMIT, T0, form_id="demo-request"),
            ev("d2", EventKind.FORM_SUBMIT, T0 + 10, form_id="demo-request"),
        ]
    )
    assert [c.points_awarded for c in updates[0].changes] == [30]
    assert [(c.points_awarded, c.note) for c in updates[1].changes] == [(0, "once_only")]


def test_once_only_goes_to_the_earliest_event_even_when_it_arrives_late() -> None:
    state, updates = run(
        [
            ev("d2", EventKind.FORM_SUBMIT, T0 + 10, form_id="demo-request"),
            ev("d1", EventKind.FORM_SUBMIT, T0, form_id="demo-request"),
        ]
    )
    assert state is not None
    notes = {(c.event_id, c.points_awarded, c.note) for c in updates[1].changes}
    assert notes == {("d1", 30, None), ("d2", -30, "once_shifted")}
    assert score_at(state, T0 + 10, BASE_RULES).engagement == pytest.approx(
        30 * 2 ** (-10 / (14 * DAY))
    )


def _log(*entries: tuple[float, float]) -> tuple[CapEntry, ...]:
    return tuple(
        CapEntry(T0 + at, f"e{i:02d}", 1.0, points) for i, (at, points) in enumerate(entries)
    )


@pytest.mark.parametrize(
    ("entries", "horizon", "settled", "kept"),
    [
        # Nothing final (all at or after the horizon, none settled): all kept.
        ([(10, 0.0), (20, 0.0)], 10, None, [0, 1]),
        # Final zero awards go, final awards within reach stay, open entries stay.
        ([(1, 1.0), (2, 0.0), (3, 0.0), (10, 0.0)], 5, None, [0, 3]),
        # Settled history makes entries final even after the lateness horizon.
        ([(1, 1.0), (6, 0.0), (7, 0.0), (8, 0.0)], 5, 7, [0, 3]),
        # An entry exactly at the horizon is not final (a tie may still sort before it).
        ([(5, 0.0), (6, 0.0)], 5, None, [0, 1]),
        # A final award at or before cutoff - window is out of every window's reach.
        ([(0, 1.0), (60, 1.0), (200, 0.0)], 150, None, [1, 2]),
        # With a settled cutoff past the horizon, the reach follows the later of both.
        ([(50, 1.0), (60, 1.0), (170, 0.0)], 100, 155, [1, 2]),
    ],
    ids=["none-final", "final-zeros", "settled", "tie-at-horizon", "out-of-reach", "settled-reach"],
)
def test_compact_cap_log_keeps_what_an_acceptable_event_can_need(
    entries: list[tuple[float, float]], horizon: float, settled: float | None, kept: list[int]
) -> None:
    from scorer.core.engagement import compact_cap_log

    log = _log(*entries)
    compacted = compact_cap_log(
        log, T0 + horizon, None if settled is None else T0 + settled, window_s=100.0
    )
    assert compacted == tuple(log[i] for i in kept)
    if compacted == log:
        assert compacted is log  # nothing to drop: no copy
