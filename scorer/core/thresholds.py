"""Named thresholds with hysteresis, evaluated along a lead's event-time score trajectory.

A gate is armed until the score reaches `value` (it fires and disarms); it re-arms only
once the score is seen below `rearm_below` (or the lead is recycled). The score is seen
at every scoring event twice: just before it (decayed since the previous event, so decay
alone can re-arm a gate) and just after it. There is no timer: decay between two events is
observed at the next one.

Crossings are numbered per threshold (`epoch`), so alert ids `lead:threshold:epoch` are
deterministic. Because the trajectory is ordered by event time (not arrival), a late event
re-runs the gates from its own time onwards; see `timeline.py` for what that means for
alerts already emitted.
"""

from __future__ import annotations

from typing import NamedTuple

from scorer.core.rules import Threshold


class Gate(NamedTuple):
    armed: bool = True
    epoch: int = 0
    last_fired_at: float | None = None

    def to_list(self) -> list[object]:
        return [self.armed, self.epoch, self.last_fired_at]

    @classmethod
    def from_list(cls, raw: list[object]) -> Gate:
        armed, epoch, last = raw
        if not isinstance(armed, bool) or not isinstance(epoch, int):
            raise ValueError("bad gate record")
        return cls(armed, epoch, None if last is None else float(last))  # type: ignore[arg-type]


ARMED = Gate()


def step_gate(
    gate: Gate,
    threshold: Threshold,
    at: float,
    score_before: float,
    score_after: float,
    *,
    force_rearm: bool = False,
) -> tuple[Gate, bool]:
    """Advance one gate over one event; returns the new gate and whether it fired.

    A forced re-arm (recycling) never fires at the same event: a recycled lead whose
    discounted score is still above the line fires on its next engagement, not instantly.
    """
    if force_rearm:
        return (gate if gate.armed else Gate(True, gate.epoch, gate.last_fired_at)), False
    armed = gate.armed
    if not armed and (score_before < threshold.rearm_below or score_after < threshold.rearm_below):
        armed = True
    if armed and score_after >= threshold.value:
        cooled = gate.last_fired_at is None or at - gate.last_fired_at >= threshold.cooldown_s
        if cooled:
            return Gate(False, gate.epoch + 1, at), True
    if armed == gate.armed:
        return gate, False
    return Gate(armed, gate.epoch, gate.last_fired_at), False
