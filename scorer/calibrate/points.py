"""From the model to points on the rules file's scale, rule by rule.

Every rule of the file gets a verdict: "supported" (its coefficient's interval excludes
0; new points = coefficient x scale, rounded), "not supported" (enough data, interval
holds 0; points 0), or "too little data" (kept as the user set it). Features no rule
covers (an attribute value, a page, an asset) whose lift and coefficient are both
significant become new rules.

The scale (points per unit of log-odds) keeps the hand-off threshold meaningful: it is
chosen so that as many older leads reach the threshold with the proposed points as with
the current ones (same MQL volume), so the threshold and the grades keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scorer.calibrate.features import CONTENT_CAP, FeatureSet, LeadFeatures
from scorer.calibrate.lift import Lift, lifts
from scorer.calibrate.model import Fit, Split, fit_model, matrix
from scorer.core import EngagementRule, FitRule, Rules

SUPPORTED, NOT_SUPPORTED, TOO_LITTLE, REVERSED = (
    "supported",
    "not supported",
    "too little data",
    "reversed",
)
COVERED_SHARE = 0.9
_CANDIDATE_PREFIXES = ("attr:", "page:", "asset:", "form:", "webinar:")


@dataclass(frozen=True, slots=True)
class RuleDecision:
    rule_id: str
    section: str  # fit | engagement
    label: str
    old_points: float
    new_points: int | float
    verdict: str
    evidence: str


@dataclass(frozen=True, slots=True)
class NewRule:
    feature: str
    section: str
    rule_id: str
    label: str
    points: int
    spec: dict[str, object]
    evidence: str


@dataclass(slots=True)
class Proposal:
    threshold: float
    scale: float
    decisions: list[RuleDecision] = field(default_factory=list)
    added: list[NewRule] = field(default_factory=list)
    fit: Fit | None = None
    lifts: dict[str, Lift] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def points(self) -> dict[str, float]:
        """Proposed points per rule id (existing and added)."""
        out: dict[str, float] = {d.rule_id: float(d.new_points) for d in self.decisions}
        out.update({n.rule_id: float(n.points) for n in self.added})
        return out


def handoff_threshold(rules: Rules) -> tuple[str, float]:
    """The threshold that hands a lead to sales: the one that moves it to mql, else the
    highest."""
    if not rules.thresholds:
        return "mql", 80.0
    for threshold in rules.thresholds:
        if threshold.moves_to is not None and threshold.moves_to.value == "mql":
            return threshold.name, threshold.value
    best = max(rules.thresholds, key=lambda t: t.value)
    return best.name, best.value


def _presence(leads: Sequence[LeadFeatures]) -> dict[str, set[int]]:
    """feature -> indexes of the leads that have it."""
    out: dict[str, set[int]] = {}
    for i, lf in enumerate(leads):
        for name, value in lf.values.items():
            if value > 0:
                out.setdefault(name, set()).add(i)
    return out


def _covered(
    feature: str, having: dict[str, set[int]], rule_ids: Sequence[str], total: int
) -> bool:
    """An attribute value almost always inside one rule's matches, or a content item
    almost always together with one rule's (and vice versa), adds nothing new."""
    mine = having.get(feature, set())
    if not mine:
        return True
    one_sided = feature.startswith("attr:")
    for rule_id in rule_ids:
        theirs = having.get(f"rule:{rule_id}", set())
        both = len(mine & theirs)
        # The complement of a rule (small companies vs a 100+ rule) is that rule's
        # absence: the rule's own points already tell it.
        if (
            one_sided
            and both <= (1 - COVERED_SHARE) * len(mine)
            and len(mine) + len(theirs) >= COVERED_SHARE * total
        ):
            return True
        if both < COVERED_SHARE * len(mine):
            continue
        if one_sided or both >= COVERED_SHARE * len(theirs):
            return True
    return False


def candidates(
    features: FeatureSet,
    train: Sequence[LeadFeatures],
    train_lifts: Mapping[str, Lift],
    rules: Rules,
) -> list[str]:
    fit_ids = [r.id for r in rules.fit]
    engagement_ids = [r.id for r in rules.engagement]
    having = _presence(train)
    out = []
    for name, lift in sorted(train_lifts.items()):
        if not name.startswith(_CANDIDATE_PREFIXES) or not lift.significant:
            continue
        if name.startswith("attr:"):
            if _covered(name, having, fit_ids, len(train)):
                continue
        elif features.content_rules.get(name) or _covered(name, having, engagement_ids, len(train)):
            continue
        out.append(name)
    return out


def _scale(
    train: Sequence[LeadFeatures],
    current: Mapping[str, float],
    fixed: Mapping[str, float],
    beta: Mapping[str, float],
    threshold: float,
) -> float:
    """Points per unit of log-odds giving the training leads the current rules' share
    of leads at or above the threshold (bisection on the undecayed sums)."""
    names = sorted({*current, *fixed, *beta})
    x = matrix(train, names)

    def vector(points: Mapping[str, float]) -> np.ndarray:
        return np.array([points.get(n, 0.0) for n in names])

    def share(scores: np.ndarray) -> float:
        return float((scores >= threshold).mean()) if len(scores) else 0.0

    target = min(max(share(x @ vector(current)), 0.02), 0.5)  # some hand-offs, not half
    base, slope = x @ vector(fixed), x @ vector(beta)
    low, high = 0.5, 500.0
    for _ in range(50):
        k = (low * high) ** 0.5
        if share(base + k * slope) > target:
            high = k
        else:
            low = k
    return float((low * high) ** 0.5)


def propose(features: FeatureSet, rules: Rules, split: Split, min_wins: int = 30) -> Proposal:
    _, threshold = handoff_threshold(rules)
    all_lifts = lifts(features.leads)
    train_lifts = lifts(split.train)
    proposal = Proposal(threshold, 0.0, lifts=all_lifts)
    train_wins = sum(1 for lf in split.train if lf.outcome.won)
    every: list[FitRule | EngagementRule] = [*rules.fit, *rules.engagement]
    user_points = {f"rule:{r.id}": r.points for r in every}
    labels = {f"rule:{r.id}": r.label for r in every}
    sections = {f"rule:{r.id}": "fit" for r in rules.fit} | {
        f"rule:{r.id}": "engagement" for r in rules.engagement
    }
    if train_wins < min_wins:
        proposal.notes.append(
            f"too little data to fit a model: {train_wins} won deals among the older leads "
            f"(need at least {min_wins}); the rules are kept as they are"
        )
        for name, points in user_points.items():
            lift = all_lifts.get(name)
            evidence = lift.evidence() if lift else "never seen before a decision"
            proposal.decisions.append(
                RuleDecision(
                    name[5:], sections[name], labels[name], points, points, TOO_LITTLE, evidence
                )
            )
        return proposal
    modelled = [n for n in user_points if train_lifts.get(n) and train_lifts[n].enough]
    extra = candidates(features, split.train, train_lifts, rules)
    fit = fit_model(split, [*modelled, *extra])
    proposal.fit = fit
    supported = {n: c.value for n, c in fit.coefficients.items() if c.supported}
    fixed = {n: p for n, p in user_points.items() if n not in modelled}
    scale = _scale(split.train, user_points, fixed, supported, threshold)
    proposal.scale = scale
    for name, points in user_points.items():
        lift = all_lifts.get(name)
        coefficient = fit.coefficients.get(name)
        if coefficient is None:
            seen = lift.evidence() if lift else "never seen before a decision"
            decision = RuleDecision(
                name[5:], sections[name], labels[name], points, points, TOO_LITTLE, seen
            )
        else:
            evidence = f"{coefficient.evidence()}; {lift.evidence() if lift else ''}"
            if coefficient.supported:
                new = round(coefficient.value * scale)
                verdict = REVERSED if new * points < 0 else SUPPORTED
                decision = RuleDecision(
                    name[5:], sections[name], labels[name], points, new, verdict, evidence
                )
            else:
                decision = RuleDecision(
                    name[5:], sections[name], labels[name], points, 0, NOT_SUPPORTED, evidence
                )
        proposal.decisions.append(decision)
    taken: set[str] = {r.id for r in every}
    for name in extra:
        coefficient = fit.coefficients[name]
        new_points = round(coefficient.value * scale)
        if not coefficient.supported or new_points == 0:
            continue
        new_rule = new_rule_for(name, new_points, taken)
        if new_rule is None:
            continue
        lift = all_lifts[name]
        proposal.added.append(
            NewRule(
                name,
                new_rule[0],
                new_rule[1],
                new_rule[2],
                new_points,
                new_rule[3],
                f"{coefficient.evidence()}; {lift.evidence()}",
            )
        )
        taken.add(new_rule[1])
    return proposal


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_") or "x"


def new_rule_for(
    feature: str, points: int, taken: set[str]
) -> tuple[str, str, str, dict[str, object]] | None:
    """(section, id, label, spec without id/label/points) for a candidate feature."""
    kind, _, rest = feature.partition(":")
    spec: dict[str, object]
    if kind == "attr":
        name, _, value = rest.partition("=")
        section, base = "fit", f"fit.calibrated.{_slug(name)}_{_slug(value)}"
        label = f"{name}: {value} (from won deals)"
        if name == "employees":
            low, _, high = value.partition("-")
            bounds: dict[str, object] = {"min": int(low.rstrip("+"))}
            if high:
                bounds["max"] = int(high)
            spec = {"level": "company", "when": {"employee_count": bounds}}
        elif name == "free_mail":
            return None  # the file's own free-mail rule is where that belongs
        elif name in ("budget", "authority", "need"):
            spec = {"when": {name: True}}
        else:
            level = {"level": "company"} if name in ("industry", "country") else {}
            spec = {**level, "when": {name: [value]}}
    else:
        section = "engagement"
        base = f"calibrated.{kind}.{_slug(rest)}"
        cap = {"points": abs(points) * CONTENT_CAP, "window": "30d"}
        if kind == "page":
            label = f"Viewed {rest} (from won deals)"
            spec = {"on": "web.page_view", "when": {"url": {"glob": [f"{rest}*"]}}, "cap": cap}
        elif kind == "asset":
            label = f"Downloaded {rest} (from won deals)"
            spec = {"on": "web.content_download", "when": {"asset_id": [rest]}, "cap": cap}
        elif kind == "form":
            label = f"Submitted form {rest} (from won deals)"
            spec = {"on": "web.form_submit", "when": {"form_id": [rest]}, "cap": cap}
        else:
            webinar, _, what = rest.rpartition(":")
            label = f"Webinar {webinar} {what} (from won deals)"
            spec = {"on": f"seminar.{what}", "when": {"webinar_id": [webinar]}, "cap": cap}
    rule_id, n = base, 2
    while rule_id in taken:
        rule_id, n = f"{base}_{n}", n + 1
    return section, rule_id, label, spec
