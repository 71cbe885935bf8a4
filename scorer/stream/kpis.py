"""The KPIs marketing and sales agree on, as Prometheus metrics of lead updates.

The seed article asks both teams to agree on the numbers that judge the hand-off: MQLs
created, how many sales accepts (MQL → SAL) and qualifies (SAL → SQL), how many come
back to nurturing and why, how fast sales follows up, and how many leads are hot. All
labels are bounded (stages, teams and rule versions from the rules file, a fixed list of
recycling causes); lead ids and free-text reasons never become labels.
"""

from __future__ import annotations

from scorer.core.lead_state import LeadState, LeadUpdate
from scorer.core.rules import Rules, Stage
from scorer.serving.metrics import ScorerMetrics
from scorer.stream.metric_children import child

_RECYCLED = Stage.RECYCLED.value
_LOST = Stage.LOST.value


def recycling_cause(before_stage: str, reason: str | None) -> str:
    """rejected | lost | cool_off | other: why a lead went back to nurturing."""
    text = (reason or "").casefold()
    if before_stage == _LOST:
        return "cool_off"
    if "reject" in text:
        return "rejected"
    if "lost" in text:
        return "lost"
    return "other"


def record_kpis(
    metrics: ScorerMetrics, before: LeadState | None, update: LeadUpdate, rules: Rules
) -> None:
    state = update.state
    team = state.team or "none"
    version = rules.version
    if update.stage_change is not None:
        old, new = update.stage_change
        child(metrics.stage_transitions, old, new, team, version).inc()
        if new == _RECYCLED:
            child(metrics.recycled_leads, recycling_cause(old, state.stage_reason)).inc()
    for alert in update.alerts:
        if alert.kind == "sla_breached":
            child(metrics.sla_breaches, alert.team or "none").inc()
    if update.feedback_after_s is not None:
        child(metrics.handoff_to_feedback_seconds, team).observe(update.feedback_after_s)
    for kind in update.unhanded_feedback:
        child(metrics.feedback_without_handoff, kind).inc()
    went_cold = state.cold_since is not None and (before is None or before.cold_since is None)
    if went_cold:
        metrics.leads_went_cold.inc()
