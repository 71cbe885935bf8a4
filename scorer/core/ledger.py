"""A lead's ledger of contributions: settling points into the settled summary (`settle`:
the attributes, and per rule and per product the decayed points, `Accumulator`s) and
reading contributions at a time (`contributions_at`, `product_interest`), which the
reasons, the alert reasons and the routing read.

The trajectory itself (points, the settled summary, recomputation) is `timeline.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import exp2
from types import MappingProxyType

from scorer.core.decay import decay_factor
from scorer.core.fit import merge_attributes
from scorer.core.rules import Rules
from scorer.core.timeline import Accumulator, Point, Settled


def settle(settled: Settled, points: Sequence[Point], count: int, rules: Rules) -> Settled:
    """Fold the first `count` points into the settled summary."""
    if count <= 0:
        return settled
    attributes = settled.attributes
    settling = points[:count]
    for point in settling:
        if point.awards or point.recycle_factor is not None:
            ledger_values = _fold_ledger(settled.ledger, settling, rules)
            break
    else:
        ledger_values = settled.ledger
    for point in settling:
        profile = point.profile
        if profile is not None:
            attributes = merge_attributes(attributes, profile)
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
    """The ledger after the settling points: a recycling point scales every entry (or
    clears them), then each award decays its entries to the award's time and adds to them."""
    ledger = current
    start = 0
    for i, point in enumerate(settling):
        factor = point.recycle_factor
        if factor is not None:
            ledger = _add_awards(ledger, settling[start:i], rules)
            ledger = (
                tuple(acc._replace(value=acc.value * factor) for acc in ledger)
                if factor != 0.0
                else ()
            )
            start = i
    return _add_awards(ledger, settling[start:], rules)


def _add_awards(  # noqa: PLR0912, PLR0915 - one pass over the awards, then the entries
    ledger: tuple[Accumulator, ...], points: Sequence[Point], rules: Rules
) -> tuple[Accumulator, ...]:
    """The ledger after the awards of `points` (none of them recycling), in point order.

    Entries are independent, so each entry's awards are gathered first and folded in one
    go: value = value * 2^(-(at - ref) / half-life) + points, ref = at, award by award.
    Entries keep their order; new ones follow in the order they first appear.
    """
    # Awards gathered per entry, as adds[name][category] per kind (no key tuple to build
    # per award); `order` lists the entries in the order they first appear.
    by_rule: dict[str, dict[str, list[tuple[float, float]]]] = {}
    by_product: dict[str, dict[str, list[tuple[float, float]]]] = {}
    order: list[tuple[str, str, str, list[tuple[float, float]]]] = []
    for point in points:
        at = point.t
        for award in point.awards:
            points_awarded = award.points
            if points_awarded == 0.0:
                continue
            rule_id, category, product = award.rule_id, award.category, award.product
            entry = (points_awarded, at)
            per = by_rule.get(rule_id)
            if per is None:
                per = by_rule[rule_id] = {}
            adds = per.get(category)
            if adds is None:
                adds = per[category] = []
                order.append(("rule", rule_id, category, adds))
            adds.append(entry)
            if product is not None:
                per = by_product.get(product)
                if per is None:
                    per = by_product[product] = {}
                adds = per.get(category)
                if adds is None:
                    adds = per[category] = []
                    order.append(("product", product, category, adds))
                adds.append(entry)
    if not order:
        return ledger
    half_life_s_of = rules.category_half_life_s
    folded = list(ledger)
    left = len(order)
    for i, acc in enumerate(ledger):
        kind = acc.kind
        table = by_rule if kind == "rule" else by_product if kind == "product" else None
        per = None if table is None else table.get(acc.name)
        if per is None:
            continue
        category = acc.category
        found = per.pop(category, None)  # popped: an existing entry took them
        if found is not None:
            value, ref = acc.value, acc.ref
            half_life_s = half_life_s_of.get(category)
            for points_awarded, at in found:
                elapsed_s = at - ref
                decay = decay_factor(elapsed_s, half_life_s)
                value = value * decay + points_awarded
                ref = at
            folded[i] = Accumulator(kind, acc.name, category, value, ref)
            left -= 1
            if not left:
                break  # the other entries stay as they are
    if left:
        for kind, name, category, adds in order:
            table = by_rule if kind == "rule" else by_product
            if category in table[name]:  # not taken by an existing entry: a new one
                first_points, first_at = adds[0]  # a new entry starts at its first award
                half_life_s = half_life_s_of.get(category)
                folded.append(
                    _fold(kind, name, category, first_points, first_at, adds, 1, half_life_s)
                )
    return tuple(folded)


def _fold(
    kind: str,
    name: str,
    category: str,
    value: float,
    ref: float,
    adds: list[tuple[float, float]],
    start: int,
    half_life_s: float | None,
) -> Accumulator:
    """The entry (kind, name, category) at `value` as of `ref` after adds[start:]."""
    for points, at in adds[start:] if start else adds:
        elapsed_s = at - ref
        decay = decay_factor(elapsed_s, half_life_s)
        value = value * decay + points
        ref = at
    return Accumulator(kind, name, category, value, ref)


def contributions_at(
    settled: Settled, points: Sequence[Point], upto: int, at: float, rules: Rules
) -> tuple[dict[str, float], dict[str, float]]:
    """Engagement contributions per rule and per product at time `at`, counting the settled
    ledger and points[:upto]. Their sum over rules equals the engagement at `at`."""
    # An Accumulator is the tuple (kind, name, category, value, ref).
    entries: list[tuple[str, str, str, float, float]] = list(settled.ledger)
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
    half_life_s_of = rules.category_half_life_s
    for kind, name, category, value, ref in entries:
        half_life_s = half_life_s_of.get(category)
        elapsed_s = at - ref
        # value * decay_factor(elapsed, half_life), inlined: this runs for every entry
        now = value * (
            1.0 if half_life_s is None or elapsed_s <= 0.0 else exp2(-elapsed_s / half_life_s)
        )
        target = by_rule if kind == "rule" else by_product
        target[name] = target.get(name, 0.0) + now
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
        decayed = value * decay_factor(at - ref, rules.category_half_life_s.get(category))
        interest[name] = interest.get(name, 0.0) + decayed
    return interest
