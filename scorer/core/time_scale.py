"""`SCORER_TIME_SCALE` / `--time-scale`: the hand-off loop's durations scaled.

The hand-off loop's durations (scenario delays, inactivity, SLA, the lost cool-off) are
the only ones `with_time_scale` touches, so a test can make "2 days" last two seconds
without changing how a lead scores.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from scorer.core.policy import Sla
from scorer.core.rules import Rules


def with_time_scale(rules: Rules, factor: float) -> Rules:
    """`rules` with the hand-off loop's durations multiplied by `factor`: scenario delays
    and cooldowns, the inactivity period, SLA deadlines and the lost cool-off.

    Scoring durations (half-lives, cap windows, threshold cooldowns, lateness, skew) stay
    as they are, so a lead scores the same whatever the scale; only the loop runs faster.
    """
    if not factor > 0.0:
        raise ValueError("the time scale must be positive")
    if factor == 1.0:
        return rules
    scenarios = tuple(
        replace(
            s,
            delay_s=s.delay_s * factor,
            cooldown_s=None if s.cooldown_s is None else s.cooldown_s * factor,
        )
        for s in rules.scenarios
    )
    inactivity = rules.inactivity
    if inactivity is not None:
        inactivity = replace(inactivity, after_s=inactivity.after_s * factor)
    sla = rules.sla
    if sla is not None:
        sla = Sla(
            sla.follow_up_s * factor,
            MappingProxyType({team: d * factor for team, d in sla.follow_up_s_by_team.items()}),
        )
    lifecycle = replace(rules.lifecycle, lost_cool_off_s=rules.lifecycle.lost_cool_off_s * factor)
    return replace(rules, scenarios=scenarios, inactivity=inactivity, sla=sla, lifecycle=lifecycle)
