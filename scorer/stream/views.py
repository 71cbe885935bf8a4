"""Read-model views of core states (what Redis and the HTTP lookups show)."""

from __future__ import annotations

from scorer.core.account import AccountState
from scorer.core.identity import is_anonymous
from scorer.core.lead_reads import route_lead
from scorer.core.lead_state import LeadState
from scorer.core.rules import Rules, Threshold
from scorer.serving.read_model import Fields, StagedLead


def team_for(state: LeadState, rules: Rules) -> str | None:
    """The current hand-off's team, else where the routing rules would send the lead."""
    return route_lead(state, rules)


def all_teams(rules: Rules) -> set[str]:
    """Every team the rules can route a lead to (the team rankings a lead may be in)."""
    routing = rules.routing
    teams = {rule.team for rule in routing.rules} | set(routing.by_product.values())
    if rules.sla is not None:
        teams |= set(rules.sla.follow_up_s_by_team)
    if routing.default_team:
        teams.add(routing.default_team)
    return teams


def hot_line(rules: Rules) -> float:
    """Leads at or above the lowest named threshold count as hot."""
    thresholds = rules.thresholds
    known = _hot_lines.get(id(thresholds))
    if known is not None and known[0] is thresholds:
        return known[1]
    line = min((t.value for t in thresholds), default=float("inf"))
    if len(_hot_lines) >= 16:  # a worker has one rule set; tests build many
        _hot_lines.clear()
    _hot_lines[id(thresholds)] = (thresholds, line)
    return line


# Asked for every lead staged (~1 µs from the thresholds): the rules' thresholds by
# identity (the tuple is kept, so its id is not reused) -> their line.
_hot_lines: dict[int, tuple[tuple[Threshold, ...], float]] = {}


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
        "cold": int(state.cold_since is not None),
        "team": team_for(state, rules) or "",
        "rules_version": state.rules_version,
        "score_at": score.at,
        "updated_at": now,
    }


def is_hot(state: LeadState | None, rules: Rules) -> bool:
    """Hot at its own latest event time (decay since then is not considered)."""
    if state is None or state.last_event_at is None or is_anonymous(state.lead_id):
        return False
    return state.score_at(state.last_event_at, rules).total >= hot_line(rules)


def staged_lead(state: LeadState, rules: Rules, now: float, was_hot: bool) -> StagedLead:
    fields = lead_fields(state, rules, now)
    score = float(fields["score"])
    return StagedLead(
        fields=fields,
        account_id=state.account_id,
        team=str(fields["team"]) or None,  # routed once, in lead_fields
        # An anonymous visitor is nobody sales can call: never in a hot-lead ranking.
        hot=score >= hot_line(rules) and not is_anonymous(state.lead_id),
        was_hot=was_hot,
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


def lead_document(state: LeadState, rules: Rules, now: float) -> dict[str, object]:
    """What `GET /leads/{id}` answers: the score now, and why."""
    from scorer.contracts.outputs import score_change_message
    from scorer.core import contributions
    from scorer.core.explain import negative_reasons, top_reasons

    at = max(now, state.last_event_at or now)
    by_rule = contributions(state, at, rules)
    labels = {rule_id: rules.rule_label(rule_id) for rule_id in by_rule}
    reasons = top_reasons(by_rule, labels, rules.explain.top_reasons)
    negatives = negative_reasons(by_rule, labels, rules.explain.top_reasons)
    return {
        **lead_fields(state, rules, now),
        "reasons": [r.to_record() for r in reasons],
        "negative_reasons": [r.to_record() for r in negatives],
        "contributions": by_rule,
        "last_changes": [score_change_message(c) for c in state.changes],
        "pending_timers": [
            {"kind": t.kind, "ref": t.ref, "due_at": t.due_at} for t in state.timers
        ],
    }


def account_document(state: AccountState, rules: Rules, now: float) -> dict[str, object]:
    """What `GET /accounts/{id}` answers: the score now, its grade, reasons (each with its
    contact) and contributions, in the record `scorer score-file` prints for an account."""
    from scorer.contracts.outputs import readable
    from scorer.core.account_view import account_record

    return readable(account_record(state, max(now, state.watermark or now), rules))
