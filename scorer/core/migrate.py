"""Carrying a lead's state over to a new rules version.

Points already earned are kept (they were earned under the rules of their day, and each
score change names that version); fit is re-evaluated with the new fit rules; thresholds
and categories are matched by name (a new threshold starts armed, a removed category's
engagement is dropped). Re-scoring history under new rules is the job of `replay`.

Hand-off loop: scenarios are matched by id (timers and marks of a removed scenario are
dropped; a pending timer keeps the delay it was armed with); the inactivity timer is
re-armed with the new period (or dropped without one); SLA timers are dropped without an
SLA, else kept with their deadline.
"""

from __future__ import annotations

from types import MappingProxyType

from scorer.core.fit import company_part, fit_score, matched_fit_rules
from scorer.core.lead_reads import buying_role
from scorer.core.lead_state import LeadState
from scorer.core.rules import Rules
from scorer.core.thresholds import Gate
from scorer.core.timeline import Point, Settled, recompute
from scorer.core.timers import INACTIVITY, SCENARIO, SLA, HandoffLoop, Timer


def _remap_vector(
    vector: tuple[float, ...], old_names: tuple[str, ...], rules: Rules
) -> tuple[float, ...]:
    values = [0.0] * len(rules.categories)
    for name, value in zip(old_names, vector, strict=False):
        index = rules.category_index.get(name)
        if index is not None:
            values[index] = value
    return tuple(values)


def _remap_gates(
    gates: tuple[Gate, ...], old_names: tuple[str, ...], rules: Rules
) -> tuple[Gate, ...]:
    by_name = dict(zip(old_names, gates, strict=False))
    return tuple(by_name.get(t.name, Gate()) for t in rules.thresholds)


def migrate_lead(state: LeadState, rules: Rules) -> LeadState:
    old_categories = state.category_names
    old_thresholds = state.threshold_names
    known = rules.category_index
    settled = state.settled
    new_settled = Settled(
        t=settled.t,
        event_id=settled.event_id,
        engagement=_remap_vector(settled.engagement, old_categories, rules),
        fit=fit_score(settled.attributes, rules),
        attributes=settled.attributes,
        gates=_remap_gates(settled.gates, old_thresholds, rules),
        ledger=tuple(a for a in settled.ledger if a.category in known),
    )
    points = [
        Point(
            p.t,
            p.event_id,
            tuple(a for a in p.awards if a.category in known),
            p.profile,
            p.recycle_factor,
        )
        for p in state.open
    ]
    recompute(new_settled, points, 0, rules)
    emitted_by_name = dict(zip(old_thresholds, state.emitted, strict=False))
    last_fit = points[-1].fit if points else new_settled.fit

    attributes = state.attributes
    fit_rules = matched_fit_rules(attributes, rules)
    return state._replace(
        role=buying_role(attributes, rules),
        company_fit=company_part(fit_rules, rules),
        fit_rules=fit_rules,
        rules_version=rules.version,
        settled=new_settled,
        open=tuple(points),
        fit=last_fit,
        emitted=tuple(emitted_by_name.get(t.name, 0) for t in rules.thresholds),
        threshold_names=rules.threshold_names,
        category_names=rules.category_names,
        caps=MappingProxyType({k: v for k, v in state.caps.items() if k in rules.rule_by_id}),
        loop=_migrate_loop(state, rules),
    )


def _migrate_loop(state: LeadState, rules: Rules) -> HandoffLoop:
    loop = state.loop
    known = rules.scenario_by_id
    timers = [
        t
        for t in loop.timers
        if (t.kind != SCENARIO or t.ref in known)
        and t.kind != INACTIVITY
        and (t.kind != SLA or rules.sla is not None)
    ]
    last = state.last_active_at
    if rules.inactivity is not None and last is not None and loop.cold_since is None:
        timers.append(Timer(last + rules.inactivity.after_s, INACTIVITY, "", 0, last, "rules"))
    return loop._replace(
        timers=tuple(sorted(timers)),
        marks=MappingProxyType({k: v for k, v in loop.marks.items() if k in known}),
    )
