"""Firing timers is idempotent and does not depend on when the ticks come.

* `fire_due` twice at the same `now` gives nothing new the second time;
* firing at t1 and then at t2 gives what firing at t2 directly gives: the same actions
  (ids, decision times, everything), the same alerts and the same final state.
Histories mix behaviour, profile updates and sales feedback (invalid feedback is simply
refused), with rules whose loop durations are short enough for everything to fire.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from hypothesis import event as observe
from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import (
    ActionKind,
    Event,
    EventKind,
    Inactivity,
    LeadState,
    LeadUpdate,
    Outcome,
    Scenario,
    ScenarioAction,
    Sla,
    TriggerKind,
    apply_event,
    fire_due,
    next_due,
    replay,
)
from scorer.core.inactivity import inactivity_due, rearmed_alone
from scorer.core.scenarios import LoopWork
from tests.property.strategies import histories
from tests.unit.core.builders import DAY, HOUR
from tests.unit.core.loop_builders import (
    BACK_TO_NURTURE,
    DORMANT,
    FOLLOW_UP,
    HOT,
    LOOP_RULES,
    to_mql,
)

COLD_FOLLOW_UP = Scenario(
    id="cold_follow_up",
    trigger=TriggerKind.WENT_COLD,
    delay_s=DAY,
    cooldown_s=DAY,
    actions=(ScenarioAction(ActionKind.NOTIFY, MappingProxyType({"channel": "#nurture"})),),
)
RULES = replace(
    LOOP_RULES,
    scenarios=(
        replace(FOLLOW_UP, delay_s=6 * HOUR),
        replace(DORMANT, cooldown_s=DAY),
        COLD_FOLLOW_UP,
        replace(HOT, cooldown_s=2 * DAY),
        BACK_TO_NURTURE,
    ),
    inactivity=Inactivity(2 * DAY),
    sla=Sla(4 * HOUR),
    lifecycle=replace(LOOP_RULES.lifecycle, lost_cool_off_s=DAY),
)
# Gaps around the loop's durations (1h ... 3d), so ticks often fall between two due times.
GAPS = st.one_of(
    st.sampled_from([0.0, HOUR, 4 * HOUR, 5 * HOUR, 6 * HOUR, DAY, 2 * DAY, 2.5 * DAY, 3 * DAY]),
    st.floats(0, 30 * DAY),
)
FEEDBACK = [
    EventKind.FEEDBACK_ACCEPTED,
    EventKind.FEEDBACK_REJECTED,
    EventKind.FEEDBACK_QUALIFIED,
    EventKind.FEEDBACK_WON,
    EventKind.FEEDBACK_LOST,
]


@st.composite
def with_feedback(draw: st.DrawFn) -> list[Event]:
    """A lead's history with sales feedback sprinkled in (after the events it follows)."""
    events = draw(histories(max_size=25))
    if draw(st.booleans()):  # often an MQL first, so that SLA, feedback and recycling happen
        start = events[0].occurred_at - 10 * HOUR
        prefix = [
            Event(e.event_id, e.lead_id, e.kind, start + i, None, e.fields)
            for i, e in enumerate(to_mql())
        ]
        answers = draw(st.sampled_from([(), ("accepted",), ("accepted", "lost"), ("rejected",)]))
        for j, answer in enumerate(answers):
            kind = EventKind(f"feedback.{answer}")
            at = start + draw(st.sampled_from([HOUR, 5 * HOUR])) + j
            prefix.append(Event(f"answer-{j}", "L1", kind, at, None, {"reason": "timing"}))
        events = prefix + events
    mixed: list[Event] = []
    for i, event in enumerate(events):
        mixed.append(event)
        if draw(st.integers(0, 5)) == 0:
            kind = draw(st.sampled_from(FEEDBACK))
            gap = draw(st.sampled_from([1.0, HOUR, 3 * HOUR, 5 * HOUR, 2 * DAY]))
            reason = draw(st.sampled_from(["timing", "competitor"]))
            fields = {"reason": reason}
            mixed.append(Event(f"fb-{i}", "L1", kind, event.occurred_at + gap, None, fields))
    return sorted(mixed, key=lambda e: e.occurred_at)


def _run(events: list[Event], ticks: list[float]) -> LeadState:
    """Apply the events, firing timers as a worker would: before each event at its time,
    and at every tick that falls before it."""
    state: LeadState | None = None
    pending = sorted(ticks)
    for event in events:
        while pending and pending[0] <= event.occurred_at:
            if state is not None:
                state = fire_due(state, RULES, pending.pop(0)).state
            else:
                pending.pop(0)
        if state is not None:
            state = fire_due(state, RULES, event.occurred_at).state
        update = apply_event(state, event, RULES, event.occurred_at)
        if update.outcome is Outcome.APPLIED:
            state = update.state
    assert state is not None
    return state


def _outputs(update: LeadUpdate) -> tuple[tuple[object, ...], tuple[object, ...]]:
    return update.actions, update.alerts


@settings(max_examples=150, deadline=None)
@given(
    with_feedback(),
    st.lists(st.floats(0, 40 * DAY), max_size=5),
    GAPS,
    st.floats(0, 1),
)
def test_firing_twice_at_the_same_time_gives_nothing_new(
    events: list[Event], ticks: list[float], after: float, cut: float
) -> None:
    events = events[: max(1, round(cut * len(events)))]
    start = events[0].occurred_at
    state = _run(events, [start + t for t in ticks])
    now = events[-1].occurred_at + after
    first = fire_due(state, RULES, now)
    second = fire_due(first.state, RULES, now)
    assert second.state is first.state
    assert _outputs(second) == ((), ())
    assert second.stage_change is None
    assert second.changes == ()
    due = next_due(first.state)
    assert due is None or due > now


@settings(max_examples=400, deadline=None)
@given(
    with_feedback(),
    st.lists(st.floats(0, 40 * DAY), max_size=5),
    GAPS,
    GAPS,
    st.floats(0, 1),
)
def test_firing_at_t1_then_t2_equals_firing_at_t2(
    events: list[Event], ticks: list[float], first_gap: float, second_gap: float, cut: float
) -> None:
    events = events[: max(1, round(cut * len(events)))]  # often mid-way: timers pending
    start = events[0].occurred_at
    state = _run(events, [start + t for t in ticks])
    t1 = events[-1].occurred_at + first_gap
    t2 = t1 + second_gap
    early = fire_due(state, RULES, t1)
    late = fire_due(early.state, RULES, t2)
    direct = fire_due(state, RULES, t2)
    assert early.actions + late.actions == direct.actions
    assert early.alerts + late.alerts == direct.alerts
    assert [a.action_id for a in direct.actions] == sorted(
        {a.action_id for a in direct.actions}, key=[a.action_id for a in direct.actions].index
    ), "never the same action twice"
    assert late.state == direct.state
    # Coverage, shown by --hypothesis-show-statistics.
    observe(f"actions fired: {min(len(direct.actions), 3)}")
    observe(f"outputs split across both ticks: {bool(early.actions) and bool(late.actions)}")
    observe(f"sla breached: {any(a.kind == 'sla_breached' for a in direct.alerts)}")
    observe(f"recycled after cool-off: {direct.stage_change == ('lost', 'recycled')}")


@settings(max_examples=100, deadline=None)
@given(with_feedback(), GAPS)
def test_replay_fires_what_stepwise_firing_fires(events: list[Event], after: float) -> None:
    """The offline replay (timers fired before each event, at the latest event time) and a
    worker ticking at every event time decide the same actions and alerts."""
    until = events[-1].occurred_at + after
    result = replay(events, RULES, until=until)
    state = _run(events, [])
    tail = fire_due(state, RULES, until)
    assert result.leads["L1"] == tail.state
    stepwise_actions = _collect(events, until)
    assert result.action_ids() == stepwise_actions


def _collect(events: list[Event], until: float) -> list[str]:
    state: LeadState | None = None
    ids: list[str] = []
    for event in events:
        if state is not None:
            fired = fire_due(state, RULES, event.occurred_at)
            state = fired.state
            ids += [a.action_id for a in fired.actions]
        update = apply_event(state, event, RULES, event.occurred_at)
        if update.outcome is Outcome.APPLIED:
            state = update.state
            ids += [a.action_id for a in update.actions]
    assert state is not None
    ids += [a.action_id for a in fire_due(state, RULES, until).actions]
    return ids


@settings(max_examples=200, deadline=None)
@given(with_feedback(), st.lists(st.floats(0, 40 * DAY), max_size=5), GAPS, st.floats(0, 1))
def test_a_rearmed_inactivity_timer_alone_fires_as_in_the_loop(
    events: list[Event], ticks: list[float], after: float, cut: float
) -> None:
    """`fire_due`'s shortcut for an inactivity timer re-armed by activity gives exactly
    what the general path (`LoopWork` + `inactivity_due`) gives."""
    events = events[: max(1, round(cut * len(events)))]
    state = _run(events, [events[0].occurred_at + t for t in ticks])
    timers = state.timers
    if not timers:
        return
    now = timers[0].due_at + after
    shortcut = rearmed_alone(state, RULES, now)
    observe(f"shortcut taken: {shortcut is not None}")
    if shortcut is None:
        return
    loop = LoopWork.of(state, RULES)
    inactivity_due(loop, loop.timers.pop(0))
    assert shortcut == loop.finish(state, None)
    assert fire_due(state, RULES, now) == shortcut
