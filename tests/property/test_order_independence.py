"""Shuffling events within the allowed lateness changes neither final scores nor alerts.

Definitions (see scorer/core/engagement.py, timeline.py and lead.py):
* scores are a function of the set of accepted events (decay and caps use event time,
  ties broken by event id), so any in-lateness arrival order gives the same final score;
* alerts are crossings of that event-time trajectory. With `alert_hold` equal to the
  allowed lateness a crossing is emitted only once nothing can still change it, so the
  set of alert ids is exactly the same for every in-lateness order. With `alert_hold: 0`
  (real time) an alert is emitted on the data known at that moment: every alert of the
  in-order run is still emitted, but a late event can add a transient one.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import Event, Outcome, Rules, Timing, replay
from tests.property.strategies import arrival_orders, histories
from tests.unit.core.builders import BASE_RULES, HOUR

LATENESS = HOUR
HELD = replace(BASE_RULES, timing=Timing(allowed_lateness_s=LATENESS, alert_hold_s=LATENESS))
REAL_TIME = replace(BASE_RULES, timing=Timing(allowed_lateness_s=LATENESS, alert_hold_s=0.0))


def _final(events: list[Event], rules: Rules) -> tuple[dict[str, float], list[str]]:
    result = replay(events, rules)
    assert all(r.outcome is not Outcome.TOO_LATE for r in result.rejected)
    end = max(e.occurred_at for e in events) + 1.0
    return {lead: s.total for lead, s in result.scores_at(end).items()}, result.alert_ids()


@st.composite
def shuffled(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    events = draw(histories(leads=("L1", "L2"), account="A1", max_size=40))
    canonical = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    return canonical, draw(arrival_orders(events, LATENESS))


def _assert_same_scores(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    for lead, score in a.items():
        assert abs(score - b[lead]) <= 1e-9 * max(1.0, abs(score)), (lead, score, b[lead])


@settings(max_examples=150, deadline=None)
@given(shuffled())
def test_held_alerts_and_scores_do_not_depend_on_arrival_order(
    case: tuple[list[Event], list[Event]],
) -> None:
    in_order, arrival = case
    scores_a, alerts_a = _final(in_order, HELD)
    scores_b, alerts_b = _final(arrival, HELD)
    _assert_same_scores(scores_a, scores_b)
    assert sorted(alerts_a) == sorted(alerts_b)


@settings(max_examples=150, deadline=None)
@given(shuffled())
def test_real_time_scores_match_and_no_alert_is_lost(
    case: tuple[list[Event], list[Event]],
) -> None:
    in_order, arrival = case
    scores_a, alerts_a = _final(in_order, REAL_TIME)
    scores_b, alerts_b = _final(arrival, REAL_TIME)
    _assert_same_scores(scores_a, scores_b)
    assert set(alerts_a) <= set(alerts_b)
    assert len(alerts_b) == len(set(alerts_b))  # never the same alert id twice
