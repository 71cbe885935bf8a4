"""Releasing the sales feedback held for a hand-off (`feedback.py` decides when it is held)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scorer.core.commit import commit
from scorer.core.events import Event, EventKind, FieldValue
from scorer.core.lifecycle import BEFORE_HANDOFF, jump
from scorer.core.rules import (
    Stage,
)
from scorer.core.scenarios import LoopWork
from scorer.core.step import feedback_step
from scorer.core.timers import (
    HELD,
    Timer,
    add_timer,
    without,
)


def release(loop: LoopWork, due: float | None = None) -> None:
    """Apply the held feedback, in arrival order: as it fits the stage, else as a
    jump (`lifecycle.jump`). One that finds the lead before a hand-off again (a
    rejection recycled it) waits on for the next hand-off, unless its lateness
    passed by `due` (the held timer's time): then it jumps and the lead is marked
    never handed off. A feedback that finds the lead in a final stage changes nothing."""
    held = loop.held
    if not held:
        return
    loop.timers = without(loop.timers, HELD)
    rules = loop.rules
    lateness_s = rules.timing.allowed_lateness_s
    for index, item in enumerate(held):
        state = loop.materialize(final=False)
        kind = EventKind(item.kind)
        unhanded = state.stage in BEFORE_HANDOFF
        if unhanded and (due is None or item.t + lateness_s > due):
            loop.held = held[index:]
            trigger = f"{kind}:{item.event_id}"
            add_timer(loop.timers, Timer(item.t + lateness_s, HELD, "", 0, item.t, trigger))
            return
        loop.held = held[index + 1 :]
        transition = jump(Stage(state.stage), kind, item.reason, rules.lifecycle, unhanded)
        if transition is None:
            continue
        at = item.t
        settled_at = state.settled.t
        if settled_at is not None and at < settled_at:
            at = settled_at  # history before this is final (feedback is never too late)
        fields: Mapping[str, FieldValue] = {} if item.reason is None else {"reason": item.reason}
        event = Event(item.event_id, state.lead_id, kind, at, None, MappingProxyType(fields))
        update = commit(
            state, event, feedback_step(state, event, transition, rules), rules,
            remember=False,
        )  # fmt: skip
        loop.state = update.state
        loop.stages = update.state.loop.stages
        loop.changes.extend(update.changes)
        loop.alerts.extend(update.alerts)
        if update.account_signal is not None:
            loop.signal = update.account_signal
        for alert in update.alerts:
            loop.hand_off(alert)
        trigger = f"{kind}:{item.event_id}"
        loop.feedback(kind, transition, at, trigger)
        if unhanded:
            loop.unhanded = True
            loop.unhanded_feedback.append(kind.value)
        if rules.state_scenarios:
            loop.state_triggers(at, trigger)
