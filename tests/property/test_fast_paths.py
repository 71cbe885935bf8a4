"""The core's shortcuts give exactly what the general computations give.

* `_place` computes an in-order event's point directly (and the score before it) instead
  of inserting it and running `recompute`: whole event streams, in-order and late, must
  give identical updates and states either way.
* The settled ledger folds each entry's awards in one go: it must equal folding award by
  award (the definition in `timeline.py`).
* A field test remembers its answers for string values: they must not change.
"""

from __future__ import annotations

import json
from dataclasses import replace
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import Event, EventKind, LeadUpdate, Rules, Timing, conditions, lead, timeline
from scorer.core.conditions import FieldTest
from scorer.core.decay import decay_factor
from scorer.core.timeline import Accumulator, Award, Point
from tests.property.strategies import arrival_orders, histories
from tests.unit.core.builders import BASE_RULES, HOUR, MINUTE, run

LATENESS = HOUR
HELD = replace(BASE_RULES, timing=Timing(allowed_lateness=LATENESS, alert_hold=LATENESS / 2))
TIGHT = replace(
    BASE_RULES,
    timing=Timing(allowed_lateness=LATENESS, max_open_events=3),
    explain=replace(BASE_RULES.explain, last_changes=2, recent_event_ids=3),
)
RULES = st.sampled_from([BASE_RULES, HELD, TIGHT])
FEEDBACK = [
    EventKind.FEEDBACK_ACCEPTED,
    EventKind.FEEDBACK_REJECTED,
    EventKind.FEEDBACK_QUALIFIED,
    EventKind.FEEDBACK_LOST,
]


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """A lead's events in an in-lateness arrival order, with some sales feedback (which
    recycles) and some re-deliveries mixed in."""
    events = draw(histories(account="A1", max_size=40))
    for i in sorted(draw(st.lists(st.integers(0, len(events) - 1), max_size=4)), reverse=True):
        base = events[i]
        kind = draw(st.sampled_from(FEEDBACK))
        reason = draw(st.sampled_from([None, "timing", "competitor"]))
        at = base.occurred_at + draw(st.sampled_from([0.0, 1.0, 10 * MINUTE]))
        events.insert(i + 1, Event(f"fb-{i}", base.lead_id, kind, at, "A1", {"reason": reason}))
    arrival = draw(arrival_orders(events, LATENESS))
    for i in sorted(draw(st.lists(st.integers(0, len(arrival) - 1), max_size=3)), reverse=True):
        arrival.insert(i + 1, arrival[draw(st.integers(0, i))])  # a re-delivery
    return arrival


def _records(updates: list[LeadUpdate]) -> list[str]:
    return [json.dumps(u.state.to_record(), sort_keys=True) for u in updates]


@settings(max_examples=100, deadline=None)
@given(streams(), RULES)
def test_the_in_order_shortcut_gives_the_same_updates(events: list[Event], rules: Rules) -> None:
    _, fast = run(events, rules)
    with patch.object(lead, "_IN_ORDER_SHORTCUT", False):
        _, general = run(events, rules)
    assert fast == general
    assert _records(fast) == _records(general)


def _fold_award_by_award(
    current: tuple[Accumulator, ...], settling: list[Point], rules: Rules
) -> tuple[Accumulator, ...]:
    """The ledger fold as defined: recycling scales (or clears) every entry, then each
    award decays its rule's and its product's entry to the award's time and adds to it."""
    ledger = {(a.kind, a.name, a.category): a for a in current}
    for point in settling:
        factor = point.recycle_factor
        if factor is not None:
            ledger = (
                {k: a._replace(value=a.value * factor) for k, a in ledger.items()}
                if factor != 0.0
                else {}
            )
        for award in point.awards:
            if award.points == 0.0:
                continue
            half_life = rules.category_half_life.get(award.category)
            keys = [("rule", award.rule_id, award.category)]
            if award.product is not None:
                keys.append(("product", award.product, award.category))
            for key in keys:
                old = ledger.get(key)
                if old is None:
                    ledger[key] = Accumulator(*key, award.points, point.t)
                else:
                    value = old.value * decay_factor(point.t - old.ref, half_life) + award.points
                    ledger[key] = Accumulator(*key, value, point.t)
    return tuple(ledger.values())


CATEGORIES = [c.name for c in BASE_RULES.categories] + ["unknown"]
AWARDS = st.builds(
    Award,
    st.sampled_from(["r1", "r2", "r3"]),
    st.sampled_from(CATEGORIES),
    st.just(5.0),
    st.sampled_from([0.0, 1.0, 2.5, -3.0, 10.0]),
    st.sampled_from([None, "product-a", "product-b"]),
)


@st.composite
def folds(draw: st.DrawFn) -> tuple[tuple[Accumulator, ...], list[Point]]:
    ledger = _fold_award_by_award((), draw(st.lists(_points(0.0), max_size=4)), BASE_RULES)
    return ledger, draw(st.lists(_points(30 * 86400.0), max_size=12))


def _points(start: float) -> st.SearchStrategy[Point]:
    return st.builds(
        Point,
        st.floats(start, start + 20 * 86400.0, allow_nan=False),
        st.just("e"),
        st.lists(AWARDS, max_size=3).map(tuple),
        st.none(),
        st.sampled_from([None, None, None, None, 0.0, 0.5]),
    )


@settings(max_examples=100, deadline=None)
@given(folds())
def test_folding_entry_by_entry_equals_folding_award_by_award(
    fold: tuple[tuple[Accumulator, ...], list[Point]],
) -> None:
    ledger, points = fold
    points.sort(key=lambda p: p.t)
    expected = _fold_award_by_award(ledger, points, BASE_RULES)
    assert timeline._fold_ledger(ledger, points, BASE_RULES) == expected


TESTS = [
    {"globs": ("/pricing*", "/price*")},
    {"contains": ("部長", "Director", "VP")},
    {"equals": ("case_study", "ebook")},
    {"regex": r"\bIT\b"},
    {"equals": ("a",), "contains": ("bc",), "negate": True},
]
VALUES = st.text(alphabet="/prcieabDITV部長 ", max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(TESTS), st.lists(VALUES, min_size=1, max_size=30))
def test_remembered_string_answers_do_not_change(
    kwargs: dict[str, object], values: list[str]
) -> None:
    remembering = FieldTest.create("f", **kwargs)  # type: ignore[arg-type]
    with patch.object(conditions, "SEEN_LIMIT", 4):
        for value in values + values:
            fresh = FieldTest.create("f", **kwargs)  # type: ignore[arg-type]
            assert remembering.matches({"f": value}) == fresh.matches({"f": value})
