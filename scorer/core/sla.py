"""The hand-off SLA: when a hand-off's deadline passes unanswered, an `sla_breached` alert
`lead:<id>:sla:<n>` escalates it (n = hand-off number). The deadline is set at the
hand-off (`scenarios.LoopWork.hand_off`)."""

from __future__ import annotations

from scorer.core.alerts import SLA_BREACHED, Alert, sla_alert_id
from scorer.core.lead_reads import negative_reasons_at, top_reasons_at
from scorer.core.lead_state import score_at
from scorer.core.rules import (
    Stage,
)
from scorer.core.scenarios import LoopWork
from scorer.core.timers import (
    Timer,
)


def sla_due(loop: LoopWork, timer: Timer) -> None:
    handoff = loop.handoff
    if handoff is None or handoff.alert_id != timer.ref:
        return
    due = timer.due_at
    if handoff.answered_at is not None and handoff.answered_at <= due:
        return
    state = loop.state
    rules = loop.rules
    score = score_at(state, due, rules)
    threshold = next((t for t in rules.thresholds if t.name == handoff.threshold), None)
    loop.alerts.append(
        Alert(
            alert_id=sla_alert_id(state.lead_id, handoff.n),
            kind=SLA_BREACHED,
            subject="lead",
            lead_id=state.lead_id,
            account_id=state.account_id,
            score=score.total,
            fit=score.fit,
            engagement=score.engagement,
            grade=score.grade,
            # As of the deadline in event time the lead was still waiting in mql (a
            # later feedback may already be applied when the timer fires late).
            stage=Stage.MQL.value,
            threshold=handoff.threshold,
            threshold_value=threshold.value if threshold is not None else 0.0,
            epoch=handoff.n,
            reasons=top_reasons_at(state, due, rules),
            rules_version=rules.version,
            occurred_at=due,
            event_id=handoff.event_id,
            team=handoff.team,
            product=state.product,
            contacts=(state.lead_id,),
            handoff_alert_id=handoff.alert_id,
            deadline=handoff.deadline,
            negative_reasons=negative_reasons_at(state, due, rules),
        )
    )
