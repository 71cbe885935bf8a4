"""Inactivity: when a lead's inactivity timer comes due it goes cold (once per inactive
stretch) and the `went_cold` scenarios trigger; activity meanwhile re-arms the clock
(`scenarios.LoopWork.arm_inactivity`)."""

from __future__ import annotations

from scorer.core.scenarios import LoopWork
from scorer.core.timers import (
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
