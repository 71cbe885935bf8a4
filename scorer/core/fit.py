"""Fit (attribute) score: the sum of the fit rules that match the current attributes.

Fit is always recomputed from the merged attributes, so a profile update replaces the old
fit points instead of adding to them. The matching rules come from `Rules.fit_memo`: a
lead's attributes are mostly the same few titles, sizes and industries as other leads'.
"""

from __future__ import annotations

from collections.abc import Mapping

from scorer.core.events import FieldValue
from scorer.core.rules import FitLevel, Rules


def fit_contributions(
    attributes: Mapping[str, FieldValue], rules: Rules
) -> tuple[tuple[str, float], ...]:
    """(rule id, points) of every fit rule that matches, in rule order."""
    return tuple([(r.id, r.points) for r in rules.fit_memo.matching(attributes)])


def fit_score(attributes: Mapping[str, FieldValue], rules: Rules) -> float:
    total = 0.0
    for rule in rules.fit_memo.matching(attributes):  # in rule order
        total += rule.points
    return total


def matched_fit_rules(attributes: Mapping[str, FieldValue], rules: Rules) -> tuple[str, ...]:
    """Ids of the fit rules the attributes match, in rule order.

    Every lead keeps its matched ids, and there are few distinct sets of them: equal
    tuples are shared (a bounded table) instead of held once per lead."""
    ids = tuple([r.id for r in rules.fit_memo.matching(attributes)])
    shared = _FIT_IDS.get(ids)
    if shared is not None:
        return shared
    if len(_FIT_IDS) >= _FIT_IDS_LIMIT:
        _FIT_IDS.clear()
    _FIT_IDS[ids] = ids
    return ids


_FIT_IDS: dict[tuple[str, ...], tuple[str, ...]] = {}
_FIT_IDS_LIMIT = 4096  # a bound on memory, as `MatchMemo`'s


def company_part(matched: tuple[str, ...], rules: Rules) -> float:
    """The company-level share of a matched fit rule set."""
    total = 0.0
    for rule_id in matched:
        rule = rules.fit_by_id.get(rule_id)
        if rule is not None and rule.level is FitLevel.COMPANY:
            total += rule.points
    return total


def company_fit_score(attributes: Mapping[str, FieldValue], rules: Rules) -> float:
    """The company-level part of fit, which the account inherits (max over its contacts)."""
    total = 0.0
    for rule in rules.fit_memo.matching(attributes):
        if rule.level is FitLevel.COMPANY:
            total += rule.points
    return total


def merge_attributes(
    attributes: Mapping[str, FieldValue], update: Mapping[str, FieldValue]
) -> dict[str, FieldValue]:
    """A profile update replaces the attributes it names; `None` removes one."""
    merged = dict(attributes)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
