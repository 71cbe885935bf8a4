"""Read-model views of core states (what Redis and the HTTP lookups show)."""

from __future__ import annotations

from scorer.core.account import AccountState
from scorer.core.lead import LeadState
from scorer.core.rules import Rules
from scorer.serving.read_model import Fields, StagedLead


def team_for(state: LeadState, rules: Rules) -> str | None:
    routing = rules.routing
    if state.product and state.product in routing.by_product:
        return routing.by_product[state.product]
    return routing.default_team


def hot_line(rules: Rules) -> float:
    """Leads at or above the lowest named threshold count as hot."""
    return min((t.value for t in rules.thresholds), default=float("inf"))


def lead_fields(state: LeadState, rules: Rules, now: float) -> dict[str, str | int | float]:
    score = state.score_at(max(now, state.last_event_at or now), rules)
    return {
        "lead_id": state.lead_id,
        "account_id": state.account_id or "",
        "score": round(score.total, 4),
        "fit": round(score.fit, 4),
        "engagement": round(score.engagement, 4),
        "grade": score.grade,
        "stage": state.stage,
        "team": team_for(state, rules) or "",
        "rules_version": state.rules_version,
        "score_at": score.at,
        "updated_at": now,
    }


def staged_lead(state: LeadState, rules: Rules, now: float) -> StagedLead:
    fields = lead_fields(state, rules, now)
    score = float(fields["score"])
    return StagedLead(
        fields=fields,
        account_id=state.account_id,
        team=team_for(state, rules),
        hot=score >= hot_line(rules),
        score=score,
    )


def account_fields(state: AccountState, rules: Rules, now: float) -> Fields:
    score = state.score_at(max(now, state.watermark or now), rules)
    return {
        "account_id": state.account_id,
        "score": round(score.total, 4),
        "fit": round(score.fit, 4),
        "engagement": round(score.engagement, 4),
        "engaged_contacts": len(score.engaged_contacts),
        "roles": ",".join(score.roles),
        "stage": state.stage,
        "rules_version": state.rules_version,
        "score_at": score.at,
        "updated_at": now,
    }
