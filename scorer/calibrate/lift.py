"""Win rate and lift per feature, with a confidence interval.

Lift is the win rate of leads WITH the feature over the win rate of those WITHOUT it (a
risk ratio), with a 95% interval by Katz's log method (0.5 added to every cell when one
is empty). A feature seen on fewer than `min_support` decided leads, or with fewer than
`min_wins` wins among them, is "too little data": we say so and back nothing with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scorer.calibrate.features import LeadFeatures

Z95 = 1.959964
MIN_SUPPORT = 30
MIN_WINS = 5


@dataclass(frozen=True, slots=True)
class Lift:
    feature: str
    support: int  # decided leads with the feature
    wins: int  # of which won
    win_rate: float
    lift: float
    low: float
    high: float
    enough: bool

    @property
    def significant(self) -> bool:
        return self.enough and (self.low > 1.0 or self.high < 1.0)

    def evidence(self) -> str:
        return (
            f"lift {self.lift:.2f} (95% CI {self.low:.2f}-{self.high:.2f}), "
            f"{self.support:,} leads, {self.wins:,} won ({self.win_rate:.1%})"
        )

    def to_record(self) -> dict[str, object]:
        return {
            "feature": self.feature,
            "support": self.support,
            "wins": self.wins,
            "win_rate": self.win_rate,
            "lift": self.lift,
            "low": self.low,
            "high": self.high,
            "enough_data": self.enough,
        }


def risk_ratio(a: int, n1: int, c: int, n0: int) -> tuple[float, float, float]:
    """Risk ratio of a/n1 over c/n0 and its 95% interval."""
    if n1 == 0 or n0 == 0:
        return 1.0, 0.0, math.inf
    if a == 0 or c == 0 or a == n1 or c == n0:
        a_, n1_, c_, n0_ = a + 0.5, n1 + 1.0, c + 0.5, n0 + 1.0
    else:
        a_, n1_, c_, n0_ = float(a), float(n1), float(c), float(n0)
    ratio = (a_ / n1_) / (c_ / n0_)
    se = math.sqrt(max(1 / a_ - 1 / n1_ + 1 / c_ - 1 / n0_, 0.0))
    log = math.log(ratio)
    return ratio, math.exp(log - Z95 * se), math.exp(log + Z95 * se)


def lifts(
    leads: Sequence[LeadFeatures], min_support: int = MIN_SUPPORT, min_wins: int = MIN_WINS
) -> dict[str, Lift]:
    total = len(leads)
    total_wins = sum(1 for lf in leads if lf.outcome.won)
    support: dict[str, int] = {}
    wins: dict[str, int] = {}
    for lf in leads:
        won = lf.outcome.won
        for name, value in lf.values.items():
            if value > 0:
                support[name] = support.get(name, 0) + 1
                if won:
                    wins[name] = wins.get(name, 0) + 1
    out = {}
    for name, n1 in support.items():
        a = wins.get(name, 0)
        ratio, low, high = risk_ratio(a, n1, total_wins - a, total - n1)
        out[name] = Lift(name, n1, a, a / n1, ratio, low, high, n1 >= min_support and a >= min_wins)
    return out
