"""A lead's score trajectory in event time.

The accepted scoring events of a lead, ordered by (occurred_at, event_id), define its score
at every moment. Only the recent part can still change: an event is accepted when it is
no older than the lead's watermark minus the allowed lateness, so everything before that
horizon is final. The state therefore holds

* `Settled`: the summary of all final events (engagement per category at the time of the
  last one, attributes, fit, threshold gates, per-rule and per-product contributions);
* open `Point`s: the events inside the lateness horizon, each with the trajectory values
  just after it (engagement vector, fit, gates and which thresholds fired there).

The trajectory records (`Award`, `Point`, `Accumulator`, `Settled`, and `CapEntry`, `Gate`
elsewhere) are NamedTuples rather than frozen dataclasses: they are as immutable, and several
are built per scored event, where a NamedTuple costs a third of a frozen dataclass.

Adding an event inserts its point and recomputes the points from there on, so a late event
gives the same trajectory as if it had arrived in order. Decay is lazy: engagement at time
t is each category's value at the last point times 2^(-(t - t_point)/half_life).

Folding the points that leave the horizon into `Settled` (`settle`) and reading the
contributions per rule and product: `ledger.py`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from operator import itemgetter
from sys import intern
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.decay import decayed
from scorer.core.events import FieldValue
from scorer.core.fit import fit_score, merge_attributes
from scorer.core.rules import Award, Rules, ScoreBasis, Threshold
from scorer.core.thresholds import Gate, step_gate

NO_ATTRIBUTES: Mapping[str, FieldValue] = MappingProxyType({})


# Bound once: reading `ScoreBasis.TOTAL` goes through the enum metaclass on every use.
_TOTAL, _ENGAGEMENT = ScoreBasis.TOTAL, ScoreBasis.ENGAGEMENT


class Point(NamedTuple):
    """One scoring event on the trajectory, with the values just after it."""

    t: float
    event_id: str
    awards: tuple[Award, ...] = ()
    profile: Mapping[str, FieldValue] | None = None
    recycle_factor: float | None = None
    engagement: tuple[float, ...] = ()
    fit: float = 0.0
    gates: tuple[Gate, ...] = ()
    fires: tuple[int, ...] = ()


class Accumulator(NamedTuple):
    """A decaying running total: `value` as of time `ref`, decaying like `category`."""

    kind: str
    name: str
    category: str
    value: float
    ref: float


class Settled(NamedTuple):
    """Everything before the lateness horizon, folded. `t` is None before any event."""

    t: float | None
    event_id: str
    engagement: tuple[float, ...]
    fit: float
    attributes: Mapping[str, FieldValue]
    gates: tuple[Gate, ...]
    ledger: tuple[Accumulator, ...] = ()


def empty_settled(rules: Rules) -> Settled:
    return Settled(
        t=None,
        event_id="",
        engagement=(0.0,) * len(rules.categories),
        fit=fit_score(NO_ATTRIBUTES, rules),
        attributes=NO_ATTRIBUTES,
        gates=(Gate(),) * len(rules.thresholds),
    )


def interned_fields(fields: Mapping[str, FieldValue]) -> Mapping[str, FieldValue]:
    """A profile's fields, frozen, with the names and string values interned.

    A lead keeps its profile (on its open point, then merged into the settled
    attributes) for as long as it is tracked; titles, industries, countries, company
    names and the field names themselves repeat across leads, so they are shared rather
    than held once per lead. (Interned strings are freed with their last reference.)
    """
    return MappingProxyType(
        {
            intern(k) if type(k) is str else k: intern(v) if type(v) is str else v
            for k, v in fields.items()
        }
    )


def insert_index(points: Sequence[Point], t: float, event_id: str) -> int:
    """Where (t, event_id) goes among `points` (in (t, event_id) order): O(log n) probes,
    no list of keys built (a burst of events at one timestamp asks this every event)."""
    return bisect_left(points, (t, event_id), key=_point_key)


_point_key = itemgetter(0, 1)  # (point.t, point.event_id)


def attributes_before(
    settled: Settled, points: Sequence[Point], index: int
) -> Mapping[str, FieldValue]:
    attributes: Mapping[str, FieldValue] = settled.attributes
    for point in points[:index]:
        profile = point.profile
        if profile is not None:
            attributes = merge_attributes(attributes, profile)
    return attributes


def recompute(settled: Settled, points: list[Point], start: int, rules: Rules) -> None:
    """Recompute the trajectory values of points[start:] in place."""
    if start > 0:
        previous = points[start - 1]
        prev_t: float | None = previous.t
        engagement = previous.engagement
        fit = previous.fit
        gates = previous.gates
    else:
        prev_t = settled.t
        engagement = settled.engagement
        fit = settled.fit
        gates = settled.gates
    attributes: Mapping[str, FieldValue] | None = None
    for j in range(start, len(points)):
        point = points[j]
        fit_after = fit
        if point.profile is not None:
            if attributes is None:
                attributes = attributes_before(settled, points, j)
            attributes = merge_attributes(attributes, point.profile)
            fit_after = fit_score(attributes, rules)
        point = advance(point, prev_t, engagement, fit, gates, fit_after, rules)
        points[j] = point
        prev_t, engagement, fit, gates = point.t, point.engagement, point.fit, point.gates


def advance(
    point: Point,
    prev_t: float | None,
    engagement: tuple[float, ...],
    fit: float,
    gates: tuple[Gate, ...],
    fit_after: float,
    rules: Rules,
) -> Point:
    """`point` with its trajectory values, given the values just after the previous point
    (at `prev_t`) and the fit after this point."""
    t = point.t
    if prev_t is None or t <= prev_t:
        values = list(engagement)
    else:
        values = decayed(engagement, t - prev_t, rules)
    return with_values(point, values, fit, gates, fit_after, rules)


def with_values(
    point: Point,
    values: list[float],
    fit: float,
    gates: tuple[Gate, ...],
    fit_after: float,
    rules: Rules,
) -> Point:
    """`point` with its trajectory values, given the engagement vector just before it
    (already decayed to its time; the list is reused), the fit and gates before it and the
    fit after it."""
    t = point.t
    before_engagement = sum(values)
    recycle_factor = point.recycle_factor
    if recycle_factor is not None:
        values = [v * recycle_factor for v in values]
    awards = point.awards
    if awards:
        category_index = rules.category_index
        for award in awards:
            values[category_index[award.category]] += award.points
    after_engagement = sum(values)
    new_gates, fires = step_gates(
        gates,
        rules.thresholds,
        t,
        fit,
        before_engagement,
        fit_after,
        after_engagement,
        recycle_factor is not None,
    )
    return Point(
        t,
        point.event_id,
        awards,
        point.profile,
        recycle_factor,
        tuple(values),
        fit_after,
        new_gates,
        fires,
    )


def step_gates(
    gates: tuple[Gate, ...],
    thresholds: tuple[Threshold, ...],
    at: float,
    fit_before: float,
    engagement_before: float,
    fit_after: float,
    engagement_after: float,
    recycled: bool,
) -> tuple[tuple[Gate, ...], tuple[int, ...]]:
    """Advance every threshold's gate over one event (scores just before and just after
    it); returns the gates (the same tuple when none moved) and the indices of the
    thresholds that fired."""
    total_before = fit_before + engagement_before
    total_after = fit_after + engagement_after
    changed: list[Gate] | None = None
    fires: tuple[int, ...] = ()
    for i, threshold in enumerate(thresholds):
        basis = threshold.basis
        if basis is _TOTAL:
            score_before, score_after = total_before, total_after
        elif basis is _ENGAGEMENT:
            score_before, score_after = engagement_before, engagement_after
        else:
            score_before, score_after = fit_before, fit_after
        gate = gates[i]
        # Most events move no gate; skip the full step for them.
        if not recycled:
            if gate.armed:
                if score_after < threshold.value:
                    continue
            else:
                lowest = score_after if score_after < score_before else score_before  # min()
                if lowest >= threshold.rearm_below:
                    continue
        new_gate, fired = step_gate(
            gate,
            threshold,
            at,
            score_before,
            score_after,
            force_rearm=recycled and threshold.rearms_on_recycle,
        )
        if new_gate is not gate:
            if changed is None:
                changed = list(gates)
            changed[i] = new_gate
        if fired:
            fires = (*fires, i)
    return (gates if changed is None else tuple(changed)), fires
