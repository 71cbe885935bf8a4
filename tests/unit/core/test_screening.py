"""The per-lead rate limit (`rate_limit`) and the age horizon (`timing.max_age`).

Rate limit: at most `max_events` scored events per lead per `per`-second slot of event
time (floor(t / per) * per); an event in a later slot opens a new window, any other one
counts in the current window; a refused event is `rate_limited` and does not count;
duplicates, refused events and sales feedback never count.

Age: an event more than `max_age` before processing time is `too_old`; lateness is judged
first (an existing lead's old event stays `too_late`).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from scorer.core import EventKind, LeadState, Outcome, RateLimit, Timing, apply_event
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, MINUTE, T0, ev, run

PAGE = EventKind.PAGE_VIEW
LIMITED = replace(BASE_RULES, rate_limit=RateLimit(max_events=3, per_s=MINUTE))
A, D, L, R = "applied", "duplicate", "too_late", "rate_limited"


def _page(event_id: str, at: float) -> object:
    return ev(event_id, PAGE, T0 + at, url="/")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("e1", 0), ("e2", 1), ("e3", 2)], [A, A, A]),
        ([("e1", 0), ("e2", 1), ("e3", 2), ("e4", 3), ("e5", 59.9)], [A, A, A, R, R]),
        # The next slot opens a new window, even one second later.
        ([("e1", 57), ("e2", 58), ("e3", 59), ("e4", 60), ("e5", 61)], [A, A, A, A, A]),
        # A late event from an earlier slot counts in the current window ...
        ([("e1", 60), ("e2", 61), ("e3", 62), ("e0", 59)], [A, A, A, R]),
        # ... and takes a place in it.
        ([("e1", 60), ("e2", 61), ("e0", 59), ("e3", 62)], [A, A, A, R]),
        # Duplicates and too-late events do not count.
        ([("e1", 0), ("e1", 0), ("e1", 0), ("e2", 1), ("e3", 2)], [A, D, D, A, A]),
        ([("e1", 2 * HOUR), ("old", 0), ("e2", 2 * HOUR), ("e3", 2 * HOUR)], [A, L, A, A]),
        # A refused event does not count either: the window stays full, then moves on.
        ([("a", 0), ("b", 0), ("c", 0), ("d", 0), ("e", 0), ("f", 60)], [A, A, A, R, R, A]),
    ],
    ids=[
        "under",
        "fourth-refused",
        "next-slot",
        "late-counts-in-current",
        "late-takes-a-place",
        "duplicates-free",
        "too-late-free",
        "refused-free",
    ],
)
def test_rate_limit_per_lead_and_slot(events: list[tuple[str, float]], expected: list[str]) -> None:
    _, updates = run([_page(i, at) for i, at in events], LIMITED)  # type: ignore[misc]
    assert [u.outcome.value for u in updates] == expected
    for update in updates:
        if update.outcome is Outcome.RATE_LIMITED:
            assert update.reason is not None
            assert "rate limit" in update.reason
            assert update.changes == ()
            assert update.alerts == ()


def test_sales_feedback_is_never_rate_limited_and_does_not_count() -> None:
    events = [_page(f"e{i}", i) for i in range(3)]
    feedback = ev("fb", EventKind.FEEDBACK_REJECTED, T0 + 3)
    state, updates = run([*events, feedback], LIMITED)  # type: ignore[list-item]
    # Judged, not rate-limited: feedback before any hand-off is held for one.
    assert updates[-1].outcome is Outcome.APPLIED
    assert state is not None
    assert [h.event_id for h in state.loop.held] == ["fb"]
    assert state.rate == (T0, 3)


def test_without_a_rate_limit_nothing_is_refused_for_rate() -> None:
    unlimited = replace(BASE_RULES, rate_limit=None)
    _, updates = run([_page(f"e{i}", 0.01 * i) for i in range(1000)], unlimited)  # type: ignore[misc]
    assert {u.outcome for u in updates} == {Outcome.APPLIED}


def test_the_rate_window_survives_the_state_record() -> None:
    state, _ = run([_page(f"e{i}", i) for i in range(3)], LIMITED)  # type: ignore[misc]
    assert state is not None
    again = LeadState.from_record(json.loads(json.dumps(state.to_record())))
    assert again.rate == (T0, 3)
    assert apply_event(again, _page("e9", 4), LIMITED, T0 + 4).outcome is Outcome.RATE_LIMITED  # type: ignore[arg-type]


AGED = replace(BASE_RULES, timing=replace(BASE_RULES.timing, max_age_s=400 * DAY))


@pytest.mark.parametrize(
    ("age_days", "max_age", "expected"),
    [
        (401, 400 * DAY, "too_old"),
        (399, 400 * DAY, "applied"),
        (400, 400 * DAY, "applied"),  # exactly max_age before: still accepted
        (20_000, 400 * DAY, "too_old"),  # 1970
        (20_000, None, "applied"),  # no horizon
        (2, 1 * DAY, "too_old"),
    ],
    ids=["401d", "399d", "exactly", "1970", "off", "short-horizon"],
)
def test_a_first_event_older_than_max_age_is_refused(
    age_days: float, max_age: float | None, expected: str
) -> None:
    rules = replace(BASE_RULES, timing=replace(BASE_RULES.timing, max_age_s=max_age))
    now = T0 + 500 * DAY
    update = apply_event(None, _page("old", 500 * DAY - age_days * DAY), rules, now)  # type: ignore[arg-type]
    assert update.outcome.value == expected
    if expected == "too_old":
        assert update.reason is not None
        assert "max age" in update.reason
        assert update.state.seq == 0
        assert not update.actions


def test_lateness_is_judged_before_age_and_duplicates_before_both() -> None:
    now = T0 + 500 * DAY
    recent = apply_event(None, _page("e1", 500 * DAY), AGED, now)  # type: ignore[arg-type]
    assert recent.outcome is Outcome.APPLIED
    ancient = apply_event(recent.state, _page("e0", 0), AGED, now)  # type: ignore[arg-type]
    assert ancient.outcome is Outcome.TOO_LATE
    again = apply_event(recent.state, _page("e1", 500 * DAY), AGED, now)  # type: ignore[arg-type]
    assert again.outcome is Outcome.DUPLICATE


def test_defaults_are_600_a_minute_and_400_days() -> None:
    from scorer.core import Rules

    rules = Rules(version="defaults")
    assert rules.rate_limit == RateLimit(600, 60.0)
    assert rules.timing.max_age_s == 400 * DAY
    assert Timing().max_age_s == 400 * DAY


@pytest.mark.parametrize(
    ("late_at", "expected"),
    [
        (2 * MINUTE + 30, "too_late"),  # before the newest settled profile update
        (3 * MINUTE, "too_late"),  # at it
        (3 * MINUTE + 30, "applied"),  # after it: among the open ones, placed exactly
    ],
    ids=["before-settled-profile", "at-it", "after-it"],
)
def test_open_profile_updates_are_bounded(late_at: float, expected: str) -> None:
    """12 profile updates of 2 fields within the lateness window, at most 16 open
    fields (`timing.max_open_profile_fields`): the oldest 4 settle early so that 8 stay
    open; a late event at or before them is too late."""
    profiles = [
        ev(f"p{i:02d}", EventKind.PROFILE_UPDATED, T0 + i * MINUTE, title=f"t{i}", custom_n=i)
        for i in range(12)
    ]
    rules = replace(BASE_RULES, timing=replace(BASE_RULES.timing, max_open_profile_fields=16))
    state, updates = run(profiles, rules)
    assert state is not None
    assert {u.outcome for u in updates} == {Outcome.APPLIED}
    assert sum(p.profile is not None for p in state.open) == 8
    assert state.settled.t == T0 + 3 * MINUTE
    assert state.attributes["title"] == "t11"
    late = apply_event(state, _page("late", late_at), rules, T0 + 12 * MINUTE)  # type: ignore[arg-type]
    assert late.outcome.value == expected
