"""Placing an event's point on the lead's trajectory (in order or late), and how much of
the trajectory settles."""

from __future__ import annotations

from collections.abc import Sequence

from scorer.core import fast_paths
from scorer.core.decay import decayed
from scorer.core.engagement import (
    CapEntry,
)
from scorer.core.events import Event
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.rules import Award, Rules
from scorer.core.step import Step
from scorer.core.timeline import (
    Point,
    insert_index,
    recompute,
    step_gates,
    with_values,
)


def place(
    state: LeadState, step: Step, event: Event, watermark: float, rules: Rules
) -> tuple[tuple[Point, ...], int]:
    """Insert the event's point at its event-time place and recompute from there.

    Returns the open points with the new one and its index (len(open) if it adds none).
    """
    open_points = state.open
    new_point = step.new_point
    index = len(open_points)
    if new_point is None:
        return open_points, index
    key = (event.occurred_at, event.event_id)
    in_order = not open_points or not key < (open_points[-1].t, open_points[-1].event_id)
    if in_order and not step.shifted and new_point.profile is None and fast_paths.IN_ORDER_SHORTCUT:
        # The point goes last and no earlier point changes, so only its own values are
        # computed from the last point's, as `recompute` would (`advance`). The decayed
        # values also give the score just before the event, for `score_changes`. (Awards-only
        # points, the common case, take `append_in_order` instead: this is a recycling point's.)
        last = open_points[-1] if open_points else state.settled
        t = new_point.t
        values, engagement_before = _values_at(last.t, last.engagement, t, rules)
        if t == watermark:
            step.score_before = last.fit + engagement_before
        point = with_values(new_point, values, last.fit, last.gates, last.fit, rules)
        return (*open_points, point), index
    points = list(open_points)
    if not in_order:
        index = insert_index(points, *key)
    for entry, rule_id, _, _ in step.shifted:
        shift_award(points, entry, rule_id)
    points.insert(index, new_point)
    recompute(state.settled, points, index, rules)
    return tuple(points), index


def not_before(t: float, event_id: str, point: Point) -> bool:
    """Whether the event sorts at or after the point (event time, then event id)."""
    return not (t, event_id) < (point.t, point.event_id)


def append_in_order(
    state: LeadState, step: Step, new_point: Point, watermark: float, rules: Rules
) -> tuple[Point, ...]:
    """The open points with an in-order awards-only `new_point` placed last, with its
    values computed from the last point's (`place`'s shortcut and `with_values` in one
    function: this runs for most events). Sets `step.score_before` as `place` does."""
    open_points = state.open
    last = open_points[-1] if open_points else state.settled
    fit = last.fit
    t = new_point.t
    values, engagement_before = _values_at(last.t, last.engagement, t, rules)
    if t == watermark:
        step.score_before = fit + engagement_before
    # with_values(new_point, values, fit, gates, fit, rules), for a point with awards only
    before = sum(values)
    category_index = rules.category_index
    for award in new_point.awards:
        values[category_index[award.category]] += award.points
    after = sum(values)
    gates, fires = step_gates(last.gates, rules.thresholds, t, fit, before, fit, after, False)
    vector = tuple(values)
    # (positional: a NamedTuple's `__new__` with keywords costs twice as much)
    point = Point(t, new_point.event_id, new_point.awards, None, None, vector, fit, gates, fires)
    return (*open_points, point)


def _values_at(
    last_t: float | None, engagement: tuple[float, ...], t: float, rules: Rules
) -> tuple[list[float], float]:
    """The engagement vector of the last point decayed to `t` (not before the point), and
    its sum (added up in category order, as `lead_state.decayed_engagement` does)."""
    if last_t is None or t <= last_t:
        values = list(engagement)
        return values, sum(values)
    values = decayed(engagement, t - last_t, rules)
    total = 0.0
    for value in values:
        total += value
    return values, total


SETTLE_BATCH = 8


def settle_count_at(points: Sequence[Point], watermark: float, rules: Rules) -> int:
    """How many leading points to fold into the settled summary now.

    Points older than the lateness horizon are final; they are folded in batches of
    `SETTLE_BATCH` (folding costs a ledger rebuild, and a final point left open changes
    nothing: no acceptable late event can be inserted before it). Beyond
    `max_open_events` the oldest points are folded regardless.
    """
    size = len(points)
    overflow = size - rules.timing.max_open_events
    horizon = watermark - rules.open_window_s
    if size < SETTLE_BATCH or not points[SETTLE_BATCH - 1].t < horizon:
        # Points are in time order: fewer than a batch are final. Settle only the overflow.
        return overflow if overflow > 0 else 0
    count = SETTLE_BATCH
    while count < size and points[count].t < horizon:
        count += 1
    return max(count, overflow)


def profiles_beyond(points: Sequence[Point], limit: int) -> int:
    """How many leading points to settle so that the open profile updates hold at most
    `limit` fields together: up to and including the newest profile update that would
    take them over it (counting from the newest)."""
    fields = 0
    for index in range(len(points) - 1, -1, -1):
        profile = points[index].profile
        if profile is not None:
            fields += len(profile)
            if fields > limit:
                return index + 1
    return 0


def shift_award(points: list[Point], entry: CapEntry, rule_id: str) -> None:
    """Set the award of `rule_id` on the point of `entry` to `entry.points`."""
    index = insert_index(points, entry.occurred_at, entry.event_id)
    if index >= len(points) or points[index].event_id != entry.event_id:
        return
    point = points[index]
    awards = tuple(
        Award(a.rule_id, a.category, a.raw, entry.points, a.product) if a.rule_id == rule_id else a
        for a in point.awards
    )
    points[index] = Point(point.t, point.event_id, awards, point.profile, point.recycle_factor)
