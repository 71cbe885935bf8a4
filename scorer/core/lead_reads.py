"""Reads of a lead's state: its contributions and reasons at a time, its buying role,
its account signal and the team it routes to."""

from __future__ import annotations

from collections.abc import Mapping

from scorer.core.events import Event, FieldValue
from scorer.core.explain import (
    Reason,
    negative_reasons,
    top_reasons,
)
from scorer.core.fit import (
    fit_contributions,
)
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.ledger import contributions_at
from scorer.core.routing import route
from scorer.core.rules import Rules
from scorer.core.timeline import attributes_before


def top_reasons_at(state: LeadState, t: float, rules: Rules) -> tuple[Reason, ...]:
    """The lead's biggest contributors at time `t` ("why is this lead hot?"), bounded by
    `explain.top_reasons`; `state.changes` holds the last `explain.last_changes` changes."""
    by_rule = contributions(state, t, rules)
    labels = {rule_id: rules.rule_label(rule_id) for rule_id in by_rule}
    return top_reasons(by_rule, labels, rules.explain.top_reasons)


def negative_reasons_at(state: LeadState, t: float, rules: Rules) -> tuple[Reason, ...]:
    """The lead's biggest negative contributors at time `t`, most negative first."""
    by_rule = contributions(state, t, rules)
    labels = {rule_id: rules.rule_label(rule_id) for rule_id in by_rule}
    return negative_reasons(by_rule, labels, rules.explain.top_reasons)


def contributions(state: LeadState, t: float, rules: Rules) -> dict[str, float]:
    """Points per rule id at time `t` (fit rules and decayed engagement rules); their sum
    equals `score_at(state, t, rules).total` (up to float rounding)."""
    upto = len(state.open)
    while upto > 0 and state.open[upto - 1].t > t:
        upto -= 1
    by_rule, _ = contributions_at(state.settled, state.open, upto, t, rules)
    attributes = attributes_before(state.settled, state.open, upto)
    for rule_id, points in fit_contributions(attributes, rules):
        by_rule[rule_id] = by_rule.get(rule_id, 0.0) + points
    return by_rule


def buying_role(attributes: Mapping[str, FieldValue], rules: Rules) -> str | None:
    """The first buying-group role (in rules order) whose condition the lead matches."""
    roles = rules.role_memo.matching(attributes)
    return roles[0] if roles else None


def lead_signal(state: LeadState, event: Event) -> LeadSignal:
    assert state.account_id is not None  # noqa: S101 - guarded by the caller
    ref: float | None = state.settled.t
    vector = state.settled.engagement
    if state.open:
        ref, vector = state.open[-1].t, state.open[-1].engagement
    return LeadSignal(
        account_id=state.account_id,
        lead_id=state.lead_id,
        seq=state.seq,
        at=state.last_event_at if state.last_event_at is not None else event.occurred_at,
        event_id=event.event_id,
        ref=ref,
        engagement=vector,
        fit=state.fit,
        company_fit=state.company_fit,
        role=state.role,
        last_engaged_at=state.last_engaged_at,
        stage=state.stage,
        product=state.product,
        rules_version=state.rules_version,
    )


def restated_signal(state: LeadState, event: Event) -> LeadSignal | None:
    """The lead's current contribution to its account, restated for a duplicate event.

    After a crash a lead's state can be persisted while the signal that carried it to the
    account was lost; the re-processed event is then a duplicate and would emit nothing.
    Restating heals that, and the account fold ignores a signal whose sequence it has
    already seen, so restating is harmless otherwise.
    """
    return lead_signal(state, event) if state.account_id is not None else None


def route_lead(state: LeadState, rules: Rules) -> str | None:
    """The team a lead belongs to now: its current hand-off's team, else where the
    routing rules send its latest product interest and attributes."""
    if state.handoff is not None:
        return state.team
    return route(rules.routing, state.product, state.attributes)
