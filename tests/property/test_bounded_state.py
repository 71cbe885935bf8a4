"""A lead's state stays bounded whatever its traffic, and bounding it changes no score.

* Compacting cap logs (dropping final zero awards and final entries out of every window's
  reach, `engagement.compact_cap_log`) gives exactly the updates of the full logs: the
  same outcomes, awards, shifts, alerts and scores, for bursts with ties and in-lateness
  late arrivals.
* Whatever the sequence, the open points stay within `timing.max_open_events`, each cap
  log within the open events plus ceil(cap / |points|) final entries, and the remembered
  event ids within `explain.recent_event_ids` plus one block.
"""

from __future__ import annotations

import math
from dataclasses import replace
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import (
    Cap,
    EngagementRule,
    Event,
    EventKind,
    LeadUpdate,
    Outcome,
    Timing,
    awards,
    lead,
)
from scorer.core.dedup import MAX_BLOCK
from tests.property.strategies import PROFILES, arrival_orders
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, MINUTE, T0, run

LATENESS = HOUR
PAGE = EventKind.PAGE_VIEW
# Tight bounds, so that short sequences reach them; small caps and windows, so that
# awards go to zero and windows slide within a sequence.
BOUNDED = replace(
    BASE_RULES,
    engagement=(
        EngagementRule("web.page", frozenset({PAGE}), 1, cap=Cap(3, 10 * MINUTE)),
        EngagementRule("web.any", frozenset({PAGE}), 2, cap=Cap(5, 2 * HOUR)),
        *BASE_RULES.engagement[1:],
    ),
    timing=Timing(allowed_lateness_s=LATENESS, max_open_events=6, max_open_profile_fields=5),
    explain=replace(BASE_RULES.explain, recent_event_ids=5),
)
WIDE = replace(
    BOUNDED,
    timing=Timing(allowed_lateness_s=LATENESS, max_open_events=256, max_open_profile_fields=10**5),
)
BURST_GAPS = st.sampled_from([0.0, 0.001, 1.0, 30.0, 4 * MINUTE, 20 * MINUTE, 3 * HOUR])


@st.composite
def bursts(draw: st.DrawFn, max_size: int = 90) -> list[Event]:
    """One lead's page views (some on /pricing) and a few profile updates, in bursts
    with ties and pauses."""
    count = draw(st.integers(1, max_size))
    t = T0
    events = []
    for i in range(count):
        t += draw(BURST_GAPS)
        event_id = f"{draw(st.integers(0, 99)):02d}-{i}"
        if draw(st.integers(0, 7)) == 0:
            profile = draw(st.sampled_from(PROFILES))
            events.append(Event(event_id, "L1", EventKind.PROFILE_UPDATED, t, None, profile))  # type: ignore[arg-type]
            continue
        url = draw(st.sampled_from(["/", "/", "/pricing", "/careers"]))
        events.append(Event(event_id, "L1", PAGE, t, None, {"url": url}))
    return events


def _summary(updates: list[LeadUpdate]) -> list[object]:
    return [
        (
            u.outcome,
            tuple((c.event_id, c.rule_id, c.points_awarded, c.note) for c in u.changes),
            tuple(a.alert_id for a in u.alerts),
            u.state.score_at(u.state.last_event_at or T0, BOUNDED).total,
        )
        for u in updates
    ]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), rules=st.sampled_from([BOUNDED, WIDE]))
def test_compacted_cap_logs_give_the_full_logs_updates(data: st.DataObject, rules: object) -> None:
    events = data.draw(bursts())
    arrivals = data.draw(arrival_orders(events, LATENESS))
    with patch.object(awards, "COMPACT_ABOVE", 0):  # compact at every event
        _, compacted = run(arrivals, rules)  # type: ignore[arg-type]
    with patch.object(awards, "COMPACT_ABOVE", 10**9):  # never: the full logs (time-pruned)
        _, full = run(arrivals, rules)  # type: ignore[arg-type]
    assert _summary(compacted) == _summary(full)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_state_stays_bounded_for_any_sequence(data: st.DataObject) -> None:
    events = data.draw(bursts(max_size=120))
    arrivals = data.draw(arrival_orders(events, LATENESS))
    rules = BOUNDED
    with patch.object(awards, "COMPACT_ABOVE", data.draw(st.sampled_from([0, 8, 32]))):
        state, updates = run(arrivals, rules)
    assert state is not None
    threshold = awards.COMPACT_ABOVE if awards.COMPACT_ABOVE else 0
    for update in updates:
        s = update.state
        assert len(s.open) <= rules.timing.max_open_events
        fields = sum(len(p.profile) for p in s.open if p.profile is not None)
        assert fields <= rules.timing.max_open_profile_fields
        for rule_id, log in s.caps.items():
            rule = rules.rule_by_id[rule_id]
            assert rule.cap is not None
            bound = len(s.open) + 1 + math.ceil(rule.cap.points / abs(rule.points))
            assert len(log) <= max(bound, threshold + 1), (rule_id, len(log), bound)
        assert len(s.recent_ids) <= rules.explain.recent_event_ids + MAX_BLOCK - 1
    applied = sum(u.outcome is Outcome.APPLIED for u in updates)
    assert applied >= 1


def test_a_long_burst_keeps_the_state_and_its_cost_flat() -> None:
    """10,000 page views within a minute: the state of the last event is no bigger than
    after 1,000 (the record within a few bytes: ids and times differ)."""
    from scorer.rules import load_rules
    from tests.unit.core.builders import ev

    # Without the rate limit, which would refuse most of them (see tests/unit/core/test_screening.py).
    rules = replace(load_rules("rules/default.yaml"), rate_limit=None)
    sizes = {}
    state = None
    for i in range(10_000):
        event = ev(f"e{i:05d}", PAGE, T0 + i * 0.005, url="/pricing" if i % 7 == 0 else "/")
        update = lead.apply_event(state, event, rules, T0 + DAY)
        assert update.outcome is Outcome.APPLIED
        state = update.state
        if i + 1 in (1_000, 10_000):
            sizes[i + 1] = (len(state.open), {k: len(v) for k, v in state.caps.items()})
    assert sizes[1_000] == sizes[10_000]


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.0, 30.0, 95.0]), min_size=1, max_size=40),
    raws=st.lists(st.sampled_from([1.0, 0.1, 2.5, -1.0, 3.0]), min_size=40, max_size=40),
    late=st.integers(0, 39),
)
def test_reallocate_skipping_zero_awards_equals_the_definition(
    offsets: list[float], raws: list[float], late: int
) -> None:
    """`reallocate` sums only the non-zero awards in a window: bit for bit what the
    definition (`_award`, every entry in the window) gives, fractional points included."""
    from scorer.core.engagement import CapEntry, _award, reallocate

    cap = Cap(2.7, 100.0)
    log: tuple[CapEntry, ...] = ()
    t = T0
    for i, offset in enumerate(offsets):
        t += offset
        log, _, _ = reallocate(log, t, f"e{i:02d}", raws[i], cap)
    at = log[min(late, len(log) - 1)].occurred_at
    new_log, awarded, changed = reallocate(log, at, "e", raws[late], cap)
    # The definition: every entry from the insertion point on, through `_award`.
    entries = list(new_log)
    index = [e.event_id for e in entries].index("e")
    expected = [*entries[:index]]
    for j in range(index, len(entries)):
        current = entries[j]
        points = _award(expected, j, current.occurred_at, current.raw, cap)
        expected.append(CapEntry(current.occurred_at, current.event_id, current.raw, points))
    assert new_log == tuple(expected)
    assert awarded == expected[index].points
    previous = {e.event_id: e.points for e in log}
    assert {e.event_id: (e.points, was) for e, was in changed} == {
        e.event_id: (e.points, previous[e.event_id])
        for e in expected[index + 1 :]
        if e.points != previous[e.event_id]
    }


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_open_events_bound_changes_nothing_until_it_refuses_an_event(
    data: st.DataObject,
) -> None:
    """Settling a burst's oldest events early (beyond `max_open_events`, or beyond
    `max_open_profile_fields` fields of profile updates) is only a fold:
    as long as no late event is refused for it, every update equals the unbounded run's
    (here 256 open events, more than a sequence holds)."""
    events = data.draw(bursts())
    arrivals = data.draw(arrival_orders(events, LATENESS))
    _, bounded = run(arrivals, BOUNDED)
    _, unbounded = run(arrivals, WIDE)
    if [u.outcome for u in bounded] != [u.outcome for u in unbounded]:
        # The bound refused a late event the unbounded run took: that is its price, and
        # only ever a refusal for settled history.
        assert all(
            b.outcome is a.outcome
            or (b.outcome is Outcome.TOO_LATE and "settled" in (b.reason or ""))
            for b, a in zip(bounded, unbounded, strict=True)
        )
        return
    assert _summary(bounded) == _summary(unbounded)
