"""Properties of a single lead's score: decay, caps, contributions, hysteresis, records."""

from __future__ import annotations

import json
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import (
    Event,
    EventKind,
    LeadState,
    contributions,
    score_at,
)
from tests.property.strategies import histories
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, T0, run
from tests.unit.core.test_thresholds import AMOUNTS, points_rules

EXAMPLES = settings(max_examples=120, deadline=None)


def _final_state(events: list[Event]) -> LeadState:
    state, _ = run(events)
    assert state is not None
    return state


@EXAMPLES
@given(histories(), st.floats(0, 400 * DAY), st.floats(0, 400 * DAY))
def test_decay_never_increases_a_contribution(events: list[Event], a: float, b: float) -> None:
    """Each category's engagement only shrinks in magnitude as time passes; with no
    negative rules involved the score itself never grows without events."""
    state = _final_state(events)
    assert state.last_event_at is not None
    early, late = sorted((a, b))
    s1 = score_at(state, state.last_event_at + early, BASE_RULES)
    s2 = score_at(state, state.last_event_at + late, BASE_RULES)
    for (_, v1), (_, v2) in zip(s1.by_category, s2.by_category, strict=True):
        assert abs(v2) <= abs(v1) + 1e-12
    positive_only = all(v >= 0 for _, v in s1.by_category)
    if positive_only:
        assert s2.total <= s1.total + 1e-9


@EXAMPLES
@given(histories(), st.floats(0, 60 * DAY))
def test_contributions_sum_to_the_score(events: list[Event], after: float) -> None:
    state = _final_state(events)
    assert state.last_event_at is not None
    at = state.last_event_at + after
    total = score_at(state, at, BASE_RULES).total
    assert abs(sum(contributions(state, at, BASE_RULES).values()) - total) <= 1e-9 * max(
        1.0, abs(total)
    )


PAGE_TIMES = st.lists(
    st.floats(0, 3 * DAY, allow_nan=False).map(lambda x: round(x, 1)), min_size=1, max_size=60
)


@EXAMPLES
@given(PAGE_TIMES, st.randoms(use_true_random=False))
def test_caps_are_never_exceeded(offsets: list[float], rng) -> None:  # type: ignore[no-untyped-def]
    """web.page: at most 10 points in any 24 h window, whatever the arrival order."""
    events = [
        Event(f"e{i:03d}", "L1", EventKind.PAGE_VIEW, T0 + off, None, {"url": "/"})
        for i, off in enumerate(sorted(offsets))
    ]
    # Deliver with random delays within the allowed lateness (1 h).
    delays = [rng.uniform(0, HOUR) for _ in events]
    order = sorted(range(len(events)), key=lambda i: events[i].occurred_at + delays[i])
    _, updates = run([events[i] for i in order])
    awarded: dict[str, float] = defaultdict(float)
    for update in updates:
        for change in update.changes:
            if change.rule_id == "web.page":
                awarded[change.event_id] += change.points_awarded
    times = {e.event_id: e.occurred_at for e in events}
    for end in times.values():
        window = sum(p for eid, p in awarded.items() if end - DAY < times[eid] <= end)
        assert window <= 10 + 1e-9
    assert all(-1e-12 <= p <= 1 + 1e-12 for p in awarded.values())


STEPS = st.lists(st.sampled_from(["+1", "-1", "+10", "-10", "-0.01", "+20", "-20"]), max_size=40)


@EXAMPLES
@given(STEPS)
def test_hysteresis_matches_a_reference_model(steps: list[str]) -> None:
    """All steps at one instant (no decay): alerts fire exactly when a reference
    hysteresis model (fire at >= 80, re-arm below 60) says so."""
    amounts = ["+80", *steps]
    events = [
        Event(f"e{i:03d}", "L1", EventKind.PAGE_VIEW, T0, None, {"url": f"/{a}"})
        for i, a in enumerate(amounts)
    ]
    _, updates = run(events, points_rules())
    alerts = [a.alert_id for u in updates for a in u.alerts]
    expected, armed, total, epoch = [], True, 0.0, 0
    for amount in amounts:
        total += AMOUNTS[amount]
        if not armed and total < 60:
            armed = True
        if armed and total >= 80 - 1e-9:
            epoch += 1
            armed = False
            expected.append(f"lead:L1:mql:{epoch}")
    assert alerts == expected


@EXAMPLES
@given(st.lists(st.sampled_from(["+10", "-10", "+1", "-1"]), max_size=40))
def test_oscillation_above_the_rearm_line_alerts_once(steps: list[str]) -> None:
    amounts, total = ["+80"], 80.0
    for step in steps:  # keep the score at or above the re-arm line (60)
        if total + AMOUNTS[step] >= 60:
            amounts.append(step)
            total += AMOUNTS[step]
    events = [
        Event(f"e{i:03d}", "L1", EventKind.PAGE_VIEW, T0, None, {"url": f"/{a}"})
        for i, a in enumerate(amounts)
    ]
    _, updates = run(events, points_rules())
    assert [a.alert_id for u in updates for a in u.alerts] == ["lead:L1:mql:1"]


@EXAMPLES
@given(histories(account="A1"))
def test_lead_records_round_trip_exactly(events: list[Event]) -> None:
    state = _final_state(events)
    record = state.to_record()
    again = LeadState.from_record(json.loads(json.dumps(record, ensure_ascii=False)))
    assert again == state
    assert again.to_record() == record
