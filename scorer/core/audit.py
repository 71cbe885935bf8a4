"""The audit records (`ScoreChange`) of one event: one per rule it moved."""

from __future__ import annotations

from scorer.core.decay import decay_factor, decayed_engagement
from scorer.core.events import Event
from scorer.core.explain import (
    ScoreChange,
)
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.rules import Rules
from scorer.core.step import Step


# Long only because its four record constructions (one field a line) take most of it.
def score_changes(
    old: LeadState,
    event: Event,
    step: Step,
    as_of: float,
    after: float,
    fit_rules: tuple[str, ...],
    rules: Rules,
) -> tuple[ScoreChange, ...]:
    """The audit records of one event: one per rule it moved (including shifted caps)."""
    new_point = step.new_point
    if new_point is None:
        return ()
    before = step.score_before
    if before is None:
        # `as_of` is the new watermark: the old state's last point holds its values before.
        last = old.open[-1] if old.open else old.settled
        before = last.fit + decayed_engagement(last.t, last.engagement, as_of, rules)
    lead_id = old.lead_id
    version = rules.version
    changes: list[ScoreChange] = []
    event_id, t = event.event_id, event.occurred_at
    elapsed_s = as_of - t
    for award in new_point.awards:
        rule_id, category, raw, points = award.rule_id, award.category, award.raw, award.points
        note = None
        if points != raw:
            rule = rules.rule_by_id.get(rule_id)
            note = "once_only" if rule is not None and rule.once else "capped"
        factor = 1.0 if elapsed_s <= 0.0 else decay_of(rules, category, elapsed_s)
        changes.append(
            # positional, in field order: keywords cost about 1 µs more per event (bench_core)
            ScoreChange(
                lead_id,
                event_id,
                rule_id,
                version,
                category,
                raw,
                points,
                factor,
                points * factor,
                before,
                after,
                t,
                as_of,
                note,
            )
        )
    for entry, rule_id, delta, note in step.shifted:
        rule = rules.rule_by_id.get(rule_id)
        category = (rule.category if rule is not None else None) or event.kind.category
        factor = decay_of(rules, category, as_of - entry.occurred_at)
        changes.append(
            # positional, in field order: keywords cost about 1 µs more per event (bench_core)
            ScoreChange(
                lead_id,
                entry.event_id,
                rule_id,
                version,
                category,
                entry.raw,
                delta,
                factor,
                delta * factor,
                before,
                after,
                entry.occurred_at,
                as_of,
                note,
            )
        )
    if new_point.profile is not None and fit_rules != old.fit_rules:
        changes.extend(fit_changes(old, event, fit_rules, before, after, as_of, rules))
    transition = step.transition
    if transition is not None and transition.recycle:
        delta = after - before
        changes.append(
            # positional, in field order: keywords cost about 1 µs more per event (bench_core)
            ScoreChange(
                lead_id,
                event.event_id,
                "lifecycle.recycle",
                version,
                "lifecycle",
                rules.lifecycle.recycle_factor,
                delta,
                1.0,
                delta,
                before,
                after,
                event.occurred_at,
                as_of,
                transition.reason,
            )
        )
    return tuple(changes)


def decay_of(rules: Rules, category: str, elapsed_s: float) -> float:
    index = rules.category_index.get(category)
    return decay_factor(elapsed_s, rules.half_lives_s[index] if index is not None else None)


def fit_changes(
    old: LeadState,
    event: Event,
    fit_rules: tuple[str, ...],
    before: float,
    after: float,
    as_of: float,
    rules: Rules,
) -> list[ScoreChange]:
    """A profile update replaces fit: one change per fit rule that started or stopped
    matching (+points / -points), never a re-add of rules that still match."""
    was, now = set(old.fit_rules), set(fit_rules)
    changes = []
    for rule_id in sorted(was ^ now):
        rule = rules.fit_by_id.get(rule_id)
        if rule is None:
            continue
        delta = rule.points if rule_id in now else -rule.points
        changes.append(
            # positional, in field order: keywords cost about 1 µs more per event (bench_core)
            ScoreChange(
                old.lead_id,
                event.event_id,
                rule_id,
                rules.version,
                "fit",
                rule.points,
                delta,
                1.0,
                delta,
                before,
                after,
                event.occurred_at,
                as_of,
                "fit_matched" if rule_id in now else "fit_unmatched",
            )
        )
    return changes
