"""Exponential decay by half-life, in event time."""

from __future__ import annotations

from math import exp2


def decay_factor(elapsed: float, half_life: float | None) -> float:
    """2^(-elapsed / half_life); 1 when the category never decays.

    A negative `elapsed` (reading a score before a contribution's time) is treated as 0:
    decay never makes a contribution bigger than it was when earned.
    """
    if half_life is None or elapsed <= 0.0:
        return 1.0
    return exp2(-elapsed / half_life)
