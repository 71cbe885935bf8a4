"""Threshold alert emission: which crossings of the lead's trajectory become alerts, and when
(the crossings themselves are found in `thresholds.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from scorer.core.alerts import Alert, lead_alert_id
from scorer.core.explain import (
    Reason,
    ranked,
    ranked_negative,
)
from scorer.core.fit import (
    fit_contributions,
)
from scorer.core.grade import grade as grade_of
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.ledger import contributions_at
from scorer.core.routing import route
from scorer.core.rules import Rules, Stage
from scorer.core.step import Step
from scorer.core.timeline import (
    Point,
    attributes_before,
)


def emit_alerts(
    state: LeadState,
    step: Step,
    points: Sequence[Point],
    index: int,
    watermark: float,
    settle_count: int,
    rules: Rules,
) -> tuple[tuple[int, ...], tuple[Alert, ...]]:
    """Alerts for crossings not emitted yet whose hold has passed (or that settle now).

    Per threshold only crossings with an epoch above the last emitted one are emitted, so a
    crossing recomputed after a late event never produces a second alert with the same id.
    A crossing in a stage where the threshold does not alert is consumed silently.
    """
    hold_s = rules.effective_hold_s
    size = len(points)
    if hold_s > 0.0:
        scan_from = 0
    elif step.new_point is None:
        return state.emitted, ()
    else:
        # With no hold, crossings before the new point were emitted when they happened.
        scan_from = index
    if scan_from == size - 1:
        if not points[scan_from].fires:
            return state.emitted, ()
    elif not any(p.fires for p in points[scan_from:]):
        return state.emitted, ()
    emitted = list(state.emitted)
    alerts: list[Alert] = []
    for j in range(scan_from, size):
        point = points[j]
        if not point.fires or (j >= settle_count and not released(point.t, watermark, hold_s)):
            continue
        for threshold_index in point.fires:
            epoch = point.gates[threshold_index].epoch
            if epoch <= emitted[threshold_index]:
                continue
            emitted[threshold_index] = epoch
            threshold = rules.thresholds[threshold_index]
            if step.stage not in threshold.alert_in_stages:
                continue
            if threshold.moves_to is not None and step.stage is not threshold.moves_to:
                step.stage = threshold.moves_to
                step.stage_reason = f"{threshold.name} threshold crossed"
            alerts.append(lead_alert(state, points, j, threshold_index, epoch, step.stage, rules))
    return tuple(emitted), tuple(alerts)


def released(at: float, watermark: float, hold_s: float) -> bool:
    """Whether a crossing at event time `at` may be emitted now.

    With a hold, strictly older than watermark - hold: an event exactly at the lateness
    horizon is still accepted and could sort before the crossing (ties go by event id).
    """
    if hold_s <= 0.0:
        return at <= watermark
    return at < watermark - hold_s


def _primary_product(by_product: dict[str, float]) -> str | None:
    best = max(
        ((points, name) for name, points in by_product.items() if points > 0.0), default=None
    )
    return None if best is None else best[1]


def lead_alert(
    state: LeadState,
    points: Sequence[Point],
    index: int,
    threshold_index: int,
    epoch: int,
    stage: Stage,
    rules: Rules,
) -> Alert:
    point = points[index]
    threshold = rules.thresholds[threshold_index]
    by_rule, by_product = contributions_at(state.settled, points, index + 1, point.t, rules)
    attributes = attributes_before(state.settled, points, index + 1)
    for rule_id, fit_points in fit_contributions(attributes, rules):
        by_rule[rule_id] = by_rule.get(rule_id, 0.0) + fit_points
    n = rules.explain.top_reasons
    reasons = tuple(
        Reason(rule_id, rules.rule_label(rule_id), points) for rule_id, points in ranked(by_rule, n)
    )
    negatives = tuple(
        Reason(rule_id, rules.rule_label(rule_id), points)
        for rule_id, points in ranked_negative(by_rule, n)
    )
    engagement = sum(point.engagement)
    product = _primary_product(by_product)
    team = route(rules.routing, product, attributes)
    return Alert(
        alert_id=lead_alert_id(state.lead_id, threshold.name, epoch),
        kind=threshold.name,
        subject="lead",
        lead_id=state.lead_id,
        account_id=state.account_id,
        score=point.fit + engagement,
        fit=point.fit,
        engagement=engagement,
        grade=grade_of(point.fit, engagement, rules.grades),
        stage=stage.value,
        threshold=threshold.name,
        threshold_value=threshold.value,
        epoch=epoch,
        reasons=reasons,
        rules_version=rules.version,
        occurred_at=point.t,
        event_id=point.event_id,
        team=team,
        product=product,
        contacts=(state.lead_id,),
        negative_reasons=negatives,
    )
