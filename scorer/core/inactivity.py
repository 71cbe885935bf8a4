"""Inactivity: when a lead's inactivity timer comes due it goes cold (once per inactive
stretch) and the `went_cold` scenarios trigger; activity meanwhile re-arms the clock
(`scenarios.LoopWork.arm_inactivity`)."""

from __future__ import annotations

from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, with_loop
from scorer.core.rules import Rules
from scorer.core.scenarios import LoopWork
from scorer.core.timers import (
    INACTIVITY,
    Timer,
    add_timer,
)


def inactivity_due(loop: LoopWork, timer: Timer) -> None:
    inactivity = loop.rules.inactivity
    last = loop.last_active_at
    if inactivity is None or last is None or loop.cold_since is not None:
        return
    target = last + inactivity.after_s
    if target > timer.due_at:  # active meanwhile: the lazily re-armed clock
        add_timer(loop.timers, timer._replace(due_at=target, trigger_at=last))
        return
    due = timer.due_at
    loop.cold_since = due
    for scenario in loop.rules.cold_scenarios:
        loop.trigger(scenario, due, "went_cold", None)


def rearmed_alone(state: LeadState, rules: Rules, now: float) -> LeadUpdate | None:
    """What `fire_due` gives when the only timer due is the inactivity timer of a lead
    that was active meanwhile and its re-armed clock is not due yet: the lead with the
    timer moved, nothing else (a third of the timers a replay fires). None otherwise.

    The same result as `inactivity_due` in a `LoopWork`, without the working copy."""
    timers = state.timers
    timer = timers[0]
    inactivity = rules.inactivity
    last = state.last_active_at
    if (
        timer.kind != INACTIVITY
        or (len(timers) > 1 and timers[1].due_at <= now)
        or inactivity is None
        or last is None
        or state.loop.cold_since is not None
    ):
        return None
    target = last + inactivity.after_s
    if target <= timer.due_at or target <= now:
        return None
    moved = list(timers[1:])
    add_timer(moved, timer._replace(due_at=target, trigger_at=last))
    loop = state.loop._replace(timers=tuple(moved))
    return LeadUpdate(with_loop(state, last, loop), Outcome.APPLIED)
