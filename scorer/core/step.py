"""What one event does to a lead before the new state is built (`Step`), and the step
of a decided feedback transition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scorer.core.engagement import (
    CapEntry,
)
from scorer.core.events import Event
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.lifecycle import Transition
from scorer.core.rules import Rules, Stage
from scorer.core.timeline import (
    Point,
)


@dataclass(slots=True)
class Step:
    """Scratch for one `apply_event` call: what the event does, before the state is built."""

    stage: Stage
    stage_reason: str | None
    caps: Mapping[str, tuple[CapEntry, ...]]
    once: Mapping[str, tuple[float, str]]
    transition: Transition | None = None
    new_point: Point | None = None
    shifted: tuple[tuple[CapEntry, str, float, str], ...] = ()
    # Whether the new point awards positive points (set with `new_point`).
    engaged: bool = False
    # The score just before the event, read at the new watermark, when placing the event
    # already computed it (an in-order event at the watermark); else `score_changes` reads it.
    score_before: float | None = None
    # The event id's digest, remembered by `commit` (computed once, for `screen`).
    digest: bytes = b""
    # The lead's rate window after the event (`rate_after`); None: unchanged.
    rate: tuple[float, int] | None = None


# A lead's stage is stored as its value (a str); this turns it back into a `Stage`.
STAGES = {stage.value: stage for stage in Stage}


def start_step(state: LeadState) -> Step:
    """The step before the event does anything: the lead's stage, caps and once-only
    holders as they are."""
    return Step(STAGES[state.stage], state.stage_reason, state.caps, state.once)


def feedback_step(state: LeadState, event: Event, decided: Transition, rules: Rules) -> Step:
    """The step of a decided feedback transition (see `feedback.py`)."""
    step = start_step(state)
    step.transition = decided
    step.stage = decided.after
    step.stage_reason = decided.reason
    if decided.recycle:
        point = Point(
            event.occurred_at, event.event_id, recycle_factor=rules.lifecycle.recycle_factor
        )
        step.new_point = point
    return step
