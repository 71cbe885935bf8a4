"""Screening an event before any work: duplicates, time tolerances, the rate limit."""

from __future__ import annotations

from math import floor

from scorer.core.events import Event
from scorer.core.lead_state import (
    LeadState,
    LeadUpdate,
    Outcome,
    rejected,
)
from scorer.core.lifecycle import FEEDBACK_KINDS
from scorer.core.rules import NEVER_LATE, Rules
from scorer.core.timecheck import age_problem, future_problem, lateness_problem
from scorer.core.timeline import (
    Point,
    insert_index,
)


def screen(
    state: LeadState, event: Event, rules: Rules, now: float, digest: bytes
) -> LeadUpdate | None:
    """Reject duplicates and events outside the time tolerances, before any work."""
    t = event.occurred_at
    event_id = event.event_id
    open_points = state.open
    if state.recent_ids.has_digest(digest) or (
        open_points and t <= open_points[-1].t and _is_open_point(open_points, t, event_id)
    ):
        return rejected(state, Outcome.DUPLICATE, "event id already applied")
    timing = rules.timing
    if t > now + timing.future_skew_s:
        return rejected(state, Outcome.TOO_FAR_IN_FUTURE, str(future_problem(t, now, timing)))
    watermark = state.last_event_at
    settled_until = state.settled.t
    lateness_s = rules.lateness_s_of[event.kind]
    if (watermark is not None and t < watermark - lateness_s) or (
        settled_until is not None and t <= settled_until and lateness_s != NEVER_LATE
    ):
        reason = lateness_problem(t, watermark, settled_until, lateness_s, event.kind.category)
        return rejected(state, Outcome.TOO_LATE, str(reason))
    max_age_s = timing.max_age_s
    if max_age_s is not None and t < now - max_age_s:
        return rejected(state, Outcome.TOO_OLD, str(age_problem(t, now, timing)))
    return None


def rate_after(state: LeadState, event: Event, rules: Rules) -> tuple[float, int] | str | None:
    """The lead's rate window after counting the event, None if it does not count (no
    limit, or sales feedback), or why it is refused.

    The window is the `per_s`-second slot of event time (floor(t / per_s) * per_s) of the
    latest counted event. An event in a later slot opens a new window; any other (the
    same slot, or a late event from an earlier one) counts in the current window. An
    event that would make the window count more than `max_events` is refused and does
    not count. Only the lead's own events decide, in arrival order: the worker and
    `score-file` agree.
    """
    limit = rules.rate_limit
    if limit is None or event.kind in FEEDBACK_KINDS:
        return None
    start = floor(event.occurred_at / limit.per_s) * limit.per_s
    rate = state.rate
    if rate is None or start > rate[0]:
        return (start, 1)
    if rate[1] >= limit.max_events:
        return (
            f"lead over its rate limit: {limit.max_events} events in the {limit.per_s:.0f}s "
            f"window starting {rate[0]:.0f} (event time)"
        )
    return (rate[0], rate[1] + 1)


def _is_open_point(points: tuple[Point, ...], t: float, event_id: str) -> bool:
    """An event still on the open trajectory is a duplicate even if the recent-id memory
    (smaller than the open window) has forgotten it."""
    if not points or t > points[-1].t:
        return False
    index = insert_index(points, t, event_id)
    return index < len(points) and points[index].event_id == event_id and points[index].t == t
