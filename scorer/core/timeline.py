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
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from math import exp2
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.decay import decay_factor
from scorer.core.events import FieldValue
from scorer.core.fit import fit_score, merge_attributes
from scorer.core.rules import Rules, ScoreBasis
from scorer.core.thresholds import Gate, step_gate

NO_ATTRIBUTES: Mapping[str, FieldValue] = MappingProxyType({})


class Award(NamedTuple):
    """Points one rule gave one event (after cap / once-only)."""

    rule_id: str
    category: str
    raw: float
    points: float
    product: str | None = None


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


def basis_score(basis: ScoreBasis, fit: float, engagement: float) -> float:
    if basis is ScoreBasis.TOTAL:
        return fit + engagement
    if basis is ScoreBasis.ENGAGEMENT:
        return engagement
    return fit


def insert_index(points: Sequence[Point], t: float, event_id: str) -> int:
    keys = [(p.t, p.event_id) for p in points]
    return bisect_left(keys, (t, event_id))


def attributes_before(
    settled: Settled, points: Sequence[Point], index: int
) -> Mapping[str, FieldValue]:
    attributes: Mapping[str, FieldValue] = settled.attributes
    for point in points[:index]:
        if point.profile is not None:
            attributes = merge_attributes(attributes, point.profile)
    return attributes


def recompute(settled: Settled, points: list[Point], start: int, rules: Rules) -> None:
    """Recompute the trajectory values of points[start:] in place."""
    half_lives = rules.half_lives
    category_index = rules.category_index
    thresholds = rules.thresholds
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
        if prev_t is None or point.t <= prev_t:
            values = list(engagement)
        else:
            elapsed = point.t - prev_t
            values = [
                v if h is None or v == 0.0 else v * exp2(-elapsed / h)
                for v, h in zip(engagement, half_lives, strict=True)
            ]
        before_engagement = sum(values)
        before_fit = fit
        if point.recycle_factor is not None:
            values = [v * point.recycle_factor for v in values]
        for award in point.awards:
            values[category_index[award.category]] += award.points
        if point.profile is not None:
            if attributes is None:
                attributes = attributes_before(settled, points, j)
            attributes = merge_attributes(attributes, point.profile)
            fit = fit_score(attributes, rules)
        engagement = tuple(values)
        after_engagement = sum(values)
        recycled = point.recycle_factor is not None
        new_gates: list[Gate] = []
        fires: list[int] = []
        for i, threshold in enumerate(thresholds):
            gate = gates[i]
            before = basis_score(threshold.basis, before_fit, before_engagement)
            after = basis_score(threshold.basis, fit, after_engagement)
            # Most events move no gate; skip the full step for them.
            if not recycled and (
                (gate.armed and after < threshold.value)
                or (not gate.armed and min(before, after) >= threshold.rearm_below)
            ):
                new_gates.append(gate)
                continue
            gate, fired = step_gate(
                gate,
                threshold,
                point.t,
                before,
                after,
                force_rearm=recycled and threshold.rearm_on_recycle,
            )
            new_gates.append(gate)
            if fired:
                fires.append(i)
        gates = tuple(new_gates)
        points[j] = Point(
            point.t,
            point.event_id,
            point.awards,
            point.profile,
            point.recycle_factor,
            engagement,
            fit,
            gates,
            tuple(fires),
        )
        prev_t = point.t


def settle(settled: Settled, points: Sequence[Point], count: int, rules: Rules) -> Settled:
    """Fold the first `count` points into the settled summary."""
    if count <= 0:
        return settled
    attributes = settled.attributes
    settling = points[:count]
    if not any(p.awards or p.recycle_factor is not None for p in settling):
        ledger_values = settled.ledger
    else:
        ledger_values = _fold_ledger(settled.ledger, settling, rules)
    for point in settling:
        if point.profile is not None:
            attributes = merge_attributes(attributes, point.profile)
    last = settling[-1]
    return Settled(
        t=last.t,
        event_id=last.event_id,
        engagement=last.engagement,
        fit=last.fit,
        attributes=(
            attributes if attributes is settled.attributes else MappingProxyType(dict(attributes))
        ),
        gates=last.gates,
        ledger=ledger_values,
    )


def _fold_ledger(
    current: tuple[Accumulator, ...], settling: Sequence[Point], rules: Rules
) -> tuple[Accumulator, ...]:
    ledger: dict[tuple[str, str, str], Accumulator] = {
        (a.kind, a.name, a.category): a for a in current
    }
    for point in settling:
        if point.recycle_factor is not None:
            factor = point.recycle_factor
            ledger = (
                {key: acc._replace(value=acc.value * factor) for key, acc in ledger.items()}
                if factor != 0.0
                else {}
            )
        for award in point.awards:
            if award.points == 0.0:
                continue
            half_life = _half_life(rules, award.category)
            _accumulate(ledger, ("rule", award.rule_id, award.category), award, point.t, half_life)
            if award.product is not None:
                key = ("product", award.product, award.category)
                _accumulate(ledger, key, award, point.t, half_life)
    return tuple(ledger.values())


def _half_life(rules: Rules, category: str) -> float | None:
    index = rules.category_index.get(category)
    return None if index is None else rules.half_lives[index]


def _accumulate(
    ledger: dict[tuple[str, str, str], Accumulator],
    key: tuple[str, str, str],
    award: Award,
    at: float,
    half_life: float | None,
) -> None:
    existing = ledger.get(key)
    if existing is None:
        ledger[key] = Accumulator(key[0], key[1], key[2], award.points, at)
        return
    value = existing.value * decay_factor(at - existing.ref, half_life) + award.points
    ledger[key] = Accumulator(key[0], key[1], key[2], value, at)


def contributions_at(
    settled: Settled, points: Sequence[Point], upto: int, at: float, rules: Rules
) -> tuple[dict[str, float], dict[str, float]]:
    """Engagement contributions per rule and per product at time `at`, counting the settled
    ledger and points[:upto]. Their sum over rules equals the engagement at `at`."""
    entries: list[tuple[str, str, str, float, float]] = [
        (a.kind, a.name, a.category, a.value, a.ref) for a in settled.ledger
    ]
    for point in points[:upto]:
        if point.recycle_factor is not None:
            factor = point.recycle_factor
            entries = [(k, n, c, v * factor, r) for k, n, c, v, r in entries if factor != 0.0]
        for award in point.awards:
            if award.points == 0.0:
                continue
            entries.append(("rule", award.rule_id, award.category, award.points, point.t))
            if award.product is not None:
                entries.append(("product", award.product, award.category, award.points, point.t))
    by_rule: dict[str, float] = {}
    by_product: dict[str, float] = {}
    for kind, name, category, value, ref in entries:
        decayed = value * decay_factor(at - ref, _half_life(rules, category))
        target = by_rule if kind == "rule" else by_product
        target[name] = target.get(name, 0.0) + decayed
    return by_rule, by_product


def product_interest(
    settled: Settled, points: Sequence[Point], at: float, rules: Rules
) -> dict[str, float]:
    """Decayed engagement per product at `at` (what routes a lead to a product team)."""
    entries = [(a.name, a.category, a.value, a.ref) for a in settled.ledger if a.kind == "product"]
    for point in points:
        if point.recycle_factor is not None:
            factor = point.recycle_factor
            entries = [(n, c, v * factor, r) for n, c, v, r in entries if factor != 0.0]
        for award in point.awards:
            if award.product is not None and award.points != 0.0:
                entries.append((award.product, award.category, award.points, point.t))
    interest: dict[str, float] = {}
    for name, category, value, ref in entries:
        decayed = value * decay_factor(at - ref, _half_life(rules, category))
        interest[name] = interest.get(name, 0.0) + decayed
    return interest
