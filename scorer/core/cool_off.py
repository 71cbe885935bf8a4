"""The lost cool-off: a lost lead stays lost until its cool-off timer recycles it
(`lifecycle.lost_cool_off`)."""

from __future__ import annotations

from scorer.core.commit import commit
from scorer.core.events import Event, EventKind
from scorer.core.lifecycle import Transition
from scorer.core.rules import (
    Stage,
)
from scorer.core.scenarios import LoopWork
from scorer.core.step import Step
from scorer.core.timeline import Point
from scorer.core.timers import (
    Timer,
)


def cool_off_due(loop: LoopWork, timer: Timer) -> None:
    if loop.state.stage != Stage.LOST.value or timer.seq != loop.cycle:
        return  # disqualified (or otherwise moved on) during the cool-off
    state = loop.materialize(final=False)
    rules = loop.rules
    at = timer.due_at
    settled_at = state.settled.t
    if settled_at is not None and at < settled_at:
        at = settled_at  # a very late tick: history before this is final
    reason = f"{state.stage_reason or 'lost'}, recycled after cool-off"
    event = Event(f"cool-off:{loop.cycle + 1}", state.lead_id, EventKind.FEEDBACK_LOST, at)
    step = Step(
        Stage.RECYCLED,
        reason,
        state.caps,
        state.once,
        Transition(Stage.LOST, Stage.RECYCLED, reason, recycle=True),
        Point(at, event.event_id, recycle_factor=rules.lifecycle.recycle_factor),
    )
    update = commit(state, event, step, rules, remember=False)
    loop.state = update.state
    loop.stages = update.state.loop.stages
    loop.cycle += 1
    loop.changes.extend(update.changes)
    loop.alerts.extend(update.alerts)
    if update.account_signal is not None:
        loop.signal = update.account_signal
    for alert in update.alerts:
        loop.hand_off(alert)
    if rules.state_scenarios:
        loop.state_triggers(at, "cool_off")
