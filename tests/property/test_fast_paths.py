"""The core's shortcuts give exactly what the general computations give.

* `_append` / `_place` compute an in-order event's point directly (and the score before
  it) instead of inserting it and running `recompute`, and `MatchMemo` remembers which
  rules, scenarios, fit rules and roles some field values match: whole event streams,
  in-order and late, with the hand-off loop's timers firing in between, must give
  identical updates and states with and without them.
* The settled ledger folds each entry's awards in one go: it must equal folding award by
  award (the definition in `ledger.py`).
* A field test remembers its answers for string values, a `MatchMemo` its answers for any
  values (keyed with their types): they must not change.
* An in-order award on a capped rule is computed without `reallocate`'s general walk, and
  a cap log is pruned as a suffix: both must equal the general computations.
"""

from __future__ import annotations

import json
from dataclasses import replace
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import (
    Cap,
    Condition,
    Event,
    EventKind,
    EventMatch,
    FieldValue,
    LeadState,
    LeadUpdate,
    Outcome,
    Rules,
    Timing,
    apply_event,
    conditions,
    engagement,
    fast_paths,
    fire_due,
    rules,
)
from scorer.core import ledger as ledger_module
from scorer.core.conditions import FieldTest
from scorer.core.decay import decay_factor
from scorer.core.engagement import CapEntry
from scorer.core.rules import Award, MatchMemo
from scorer.core.timeline import Accumulator, Point
from tests.property.strategies import arrival_orders, histories
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, MINUTE, run
from tests.unit.core.loop_builders import FOLLOW_UP, LOOP_RULES

LATENESS = HOUR
HELD = replace(BASE_RULES, timing=Timing(allowed_lateness_s=LATENESS, alert_hold_s=LATENESS / 2))
TIGHT = replace(
    BASE_RULES,
    timing=Timing(allowed_lateness_s=LATENESS, max_open_events=3),
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
    with patch.object(fast_paths, "IN_ORDER_SHORTCUT", False):
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
            half_life = rules.category_half_life_s.get(award.category)
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
    assert ledger_module._fold_ledger(ledger, points, BASE_RULES) == expected


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


# -- the in-order shortcut and the memos, with the hand-off loop ------------------------

# A scenario that any page view triggers and a pricing view cancels: a pricing view
# cancels a pending timer and triggers the scenario again (which `after_cancels` hands
# back to the full loop).
ANY_VIEW = replace(
    FOLLOW_UP,
    id="any_view",
    event=EventMatch(frozenset({EventKind.PAGE_VIEW})),
    delay_s=6 * HOUR,
    unless=(replace(FOLLOW_UP.event, on=frozenset({EventKind.PAGE_VIEW})),),  # type: ignore[type-var]
)
LOOP_VARIANTS = st.sampled_from(
    [
        LOOP_RULES,
        replace(LOOP_RULES, scenarios=(*LOOP_RULES.scenarios, ANY_VIEW)),
        replace(LOOP_RULES, timing=Timing(allowed_lateness_s=LATENESS)),
        replace(
            LOOP_RULES,
            timing=Timing(
                allowed_lateness_s=LATENESS, alert_hold_s=LATENESS / 2, max_open_events=3
            ),
        ),
    ]
)


def _general() -> list[object]:
    """Patches that switch every shortcut and memo off (the general computations)."""
    return [
        patch.object(fast_paths, "IN_ORDER_SHORTCUT", False),
        patch.object(fast_paths, "CANCEL_SHORTCUT", False),
        patch.object(MatchMemo, "matching", MatchMemo.evaluate),
    ]


def _replay(events: list[Event], rules: Rules) -> list[LeadUpdate]:
    """Apply the events as a worker would: due timers fired before each event, and once
    more far in the future at the end."""
    state: LeadState | None = None
    latest = float("-inf")
    updates: list[LeadUpdate] = []
    for event in events:
        latest = max(latest, event.occurred_at)
        if state is not None:
            fired = fire_due(state, rules, latest)
            updates.append(fired)
            state = fired.state
        update = apply_event(state, event, rules, latest)
        updates.append(update)
        if update.outcome is Outcome.APPLIED:
            state = update.state
    if state is not None:
        updates.append(fire_due(state, rules, latest + 400 * DAY))
    return updates


def _fast_and_general(
    events: list[Event], rules: Rules
) -> tuple[list[LeadUpdate], list[LeadUpdate]]:
    """The updates with the shortcuts and memos, and with the general paths patched in.
    Fresh rules (and so empty memos) for each run: the memos fill up during the first."""
    fast = _replay(events, replace(rules))
    patches = _general()
    for p in patches:
        p.start()  # type: ignore[attr-defined]
    try:
        general = _replay(events, replace(rules))
    finally:
        for p in patches:
            p.stop()  # type: ignore[attr-defined]
    return fast, general


@settings(max_examples=100, deadline=None)
@given(streams(), LOOP_VARIANTS)
def test_the_shortcuts_and_memos_give_the_same_updates_with_the_loop(
    events: list[Event], rules: Rules
) -> None:
    fast, general = _fast_and_general(events, rules)
    assert fast == general
    assert _records(fast) == _records(general)
    assert [(u.actions, u.alerts) for u in fast] == [(u.actions, u.alerts) for u in general]


def test_a_cancel_that_frees_a_trigger_gives_the_same_updates() -> None:
    """A pricing view cancels the pending `any_view` timer and triggers `any_view` again
    while `follow_up` is pending: the cancel-only shortcut hands it to the full loop."""
    t = 1_777_593_600.0
    script = [
        ("p1", {"url": "/pricing"}, t),
        ("v1", {"url": "/"}, t + HOUR),
        ("p2", {"url": "/pricing"}, t + 2 * HOUR),
        ("v2", {"url": "/"}, t + 3 * HOUR),
    ]
    events = [Event(i, "L1", EventKind.PAGE_VIEW, at, None, f) for i, f, at in script]
    rules = replace(LOOP_RULES, scenarios=(*LOOP_RULES.scenarios, ANY_VIEW))
    fast, general = _fast_and_general(events, rules)
    assert fast == general
    assert _records(fast) == _records(general)


# -- MatchMemo ---------------------------------------------------------------------------

MEMO_VALUES: list[FieldValue] = [
    None, "a", "A", "b", "", "1", "true", 1, 1.0, True, False, 0, 0.0, -0.0, 2, 2.5, 150,
]  # fmt: skip
MEMO_CONDITIONS = [
    Condition(all_of=(FieldTest.create("f", equals=("a", 1, True)),)),
    Condition(all_of=(FieldTest.create("f", min=1, max=2),)),
    Condition(all_of=(FieldTest.create("g", globs=("a*",), negate=True),)),
    Condition(all_of=(FieldTest.create("g", present=False),)),
    Condition(
        any_of=(
            (FieldTest.create("f", equals=(0, False)),),
            (FieldTest.create("g", equals=("b", 2.5)), FieldTest.create("f")),
        )
    ),
    Condition(all_of=(FieldTest.create("h", contains=("ru",)),)),
]


@st.composite
def memo_fields(draw: st.DrawFn) -> dict[str, FieldValue]:
    names = draw(st.lists(st.sampled_from(["f", "g", "h", "x"]), unique=True))
    return {name: draw(st.sampled_from(MEMO_VALUES)) for name in names}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(MEMO_CONDITIONS))), min_size=1, max_size=4),
    st.lists(memo_fields(), min_size=1, max_size=40),
    st.sampled_from([2, 4096]),
)
def test_remembered_matches_equal_evaluated_matches(
    chosen: list[int], inputs: list[dict[str, FieldValue]], limit: int
) -> None:
    """Equal values of other types (1, 1.0, True; 0.0, -0.0) and missing fields, asked
    again and again in any order, with a memo that forgets often or never."""
    entries = tuple((i, MEMO_CONDITIONS[i].matcher(), MEMO_CONDITIONS[i]) for i in chosen)
    memo = MatchMemo(entries)
    with patch.object(rules, "MEMO_LIMIT", limit):
        for fields in inputs + inputs[::-1] + inputs:
            assert memo.matching(fields) == memo.evaluate(fields), fields


def test_equal_values_of_other_types_are_remembered_apart() -> None:
    """Every value, in both orders, for every condition: `1` then `True` must not be
    answered with what `1` matched (nor `1.0`, `0.0` / `-0.0` and the rest)."""
    for i, condition in enumerate(MEMO_CONDITIONS):
        entries = ((i, condition.matcher(), condition),)
        for order in (MEMO_VALUES, MEMO_VALUES[::-1]):
            memo = MatchMemo(entries)
            for value in [*order, *order]:
                for fields in ({"f": value, "g": value, "h": value}, {"f": value}, {}):
                    assert memo.matching(fields) == memo.evaluate(fields), (i, fields)


# -- cap logs ------------------------------------------------------------------------------


@st.composite
def cap_logs(draw: st.DrawFn) -> tuple[tuple[CapEntry, ...], float]:
    """A cap log in event-time order (ties allowed) and a time at or after its end."""
    times = sorted(draw(st.lists(st.sampled_from([0.0, 1.0, 5.0, 3600.0, DAY, 2 * DAY]))))
    log = tuple(
        CapEntry(t, f"e{i}", raw, draw(st.sampled_from([raw, 0.0, raw / 2])))
        for i, t in enumerate(times)
        for raw in [draw(st.sampled_from([1.0, 5.0, -10.0, 0.1]))]
    )
    end = log[-1].occurred_at if log else 0.0
    return log, end + draw(st.sampled_from([0.0, 1.0, HOUR, DAY]))


CAPS = st.builds(Cap, st.sampled_from([0.3, 1.0, 10.0, 15.0]), st.sampled_from([0.0, HOUR, DAY]))


@settings(max_examples=200, deadline=None)
@given(cap_logs(), CAPS, st.sampled_from([1.0, 5.0, -10.0, 0.1]))
def test_an_appended_award_is_the_general_award_at_the_end(
    logged: tuple[tuple[CapEntry, ...], float], cap: Cap, raw: float
) -> None:
    log, at = logged
    expected = engagement._award(log, len(log), at, raw, cap)
    assert engagement.appended_award(log, at, raw, cap) == expected
    # `reallocate` and the in-order branch of `_awards` agree with it for a new last id.
    new_log, points, changed = engagement.reallocate(log, at, "zz-last", raw, cap)
    assert (points, changed) == (expected, ())
    assert new_log == (*log, CapEntry(at, "zz-last", raw, expected))


@settings(max_examples=200, deadline=None)
@given(cap_logs(), st.sampled_from([-1.0, 0.0, 1.0, 5.0, 3600.0, DAY, 3 * DAY]))
def test_pruning_a_cap_log_keeps_the_entries_after_the_horizon(
    logged: tuple[tuple[CapEntry, ...], float], keep_after: float
) -> None:
    log, _ = logged
    expected = tuple(e for e in log if e.occurred_at > keep_after)
    assert engagement.prune_cap_log(log, keep_after) == expected
