"""Exponential decay by half-life, in event time: the one place that computes it.

A category's engagement decays as v * 2^(-elapsed / half-life) from the time it was
earned (`rules.categories[*].half_life`; a category without one never decays). The
trajectory (`timeline.py`) keeps each point's engagement vector as of the point's time;
reading it later decays it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import exp2

from scorer.core.rules import Rules


def decay_factor(elapsed_s: float, half_life_s: float | None) -> float:
    """2^(-elapsed / half_life); 1 when the category never decays.

    A negative `elapsed_s` (reading a score before a contribution's time) is treated as 0:
    decay never makes a contribution bigger than it was when earned.
    """
    if half_life_s is None or elapsed_s <= 0.0:
        return 1.0
    return exp2(-elapsed_s / half_life_s)


def decayed(vector: Sequence[float], elapsed_s: float, rules: Rules) -> list[float]:
    """Each category's value `elapsed_s` (> 0) seconds later: v * 2^(-elapsed / half-life),
    except zeros and categories that never decay, which stay as they are."""
    values = list(vector)
    if len(values) != len(rules.half_lives_s):
        raise ValueError("the engagement vector does not match the rules' categories")
    negative = -elapsed_s  # (`-elapsed / half_life` divides the negated value as well)
    for i, half_life_s in rules.decaying:
        value = values[i]
        if value != 0.0:
            values[i] = value * exp2(negative / half_life_s)
    return values


def decayed_engagement(
    ref: float | None, vector: tuple[float, ...], t: float, rules: Rules
) -> float:
    """The total engagement of `vector` (as of `ref`) read at `t`, added up in category
    order."""
    if ref is None or t <= ref:
        return sum(vector)
    total = 0.0
    for value in decayed(vector, t - ref, rules):  # added up in category order
        total += value
    return total
