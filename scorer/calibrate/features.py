"""Features of each decided lead, from what was known BEFORE its decision point.

Fit: the profile as merged from the updates before the decision; one feature per fit
rule of the rules file (`rule:<id>`, 0/1) and per attribute value (`attr:industry=…`,
size band, seniority, country, BANT answers, free-mail domain). Behaviour, counted in
`window` before the decision: per engagement rule (`rule:<id>`, events it matches, capped
at what one cap window lets through), per event type (`type:…`) and per content item
(`page:/first/two` path segments, `asset:`, `form:`, `webinar:`; capped at 3). Nothing
at or after the decision point is read, so a behaviour that only follows a win (a
customer portal) can never look predictive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scorer.calibrate.outcomes import LeadOutcome
from scorer.core import EngagementRule, Event, EventKind, FieldValue, Rules
from scorer.core.fit import matched_fit_rules, merge_attributes

CONTENT_CAP = 3
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp", "ymail.ne.jp",
        "outlook.com", "outlook.jp", "hotmail.com", "live.com", "icloud.com", "me.com",
        "aol.com", "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp",
    }
)  # fmt: skip
SIZE_BANDS = ((1, 99), (100, 999), (1000, 4999), (5000, None))
_PLAIN_ATTRIBUTES = ("industry", "seniority", "country", "timeframe")
_BANT_FLAGS = ("budget", "authority", "need")


@dataclass(slots=True)
class LeadFeatures:
    outcome: LeadOutcome
    values: dict[str, float]  # feature -> value (absent = 0)
    attributes: dict[str, FieldValue]


@dataclass(slots=True)
class FeatureSet:
    leads: list[LeadFeatures]
    # content feature -> engagement rules with a condition that matched its events
    content_rules: dict[str, set[str]] = field(default_factory=dict)
    window: float = 0.0


def rule_units(rule: EngagementRule) -> float:
    """How many matching events one cap window lets through (the feature's cap)."""
    if rule.once:
        return 1.0
    if rule.cap is not None and rule.points != 0:
        return max(1.0, math.floor(rule.cap.points / abs(rule.points)))
    return math.inf


def size_band(count: FieldValue) -> str | None:
    if not isinstance(count, int | float) or isinstance(count, bool):
        return None
    for low, high in SIZE_BANDS:
        if count >= low and (high is None or count <= high):
            return f"{low}-{high}" if high is not None else f"{low}+"
    return None


def attribute_features(attributes: Mapping[str, FieldValue]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in _PLAIN_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None and value != "":
            out[f"attr:{name}={str(value).casefold()}"] = 1.0
    band = size_band(attributes.get("employee_count"))
    if band is not None:
        out[f"attr:employees={band}"] = 1.0
    for name in _BANT_FLAGS:
        if attributes.get(name) is True:
            out[f"attr:{name}=true"] = 1.0
    domain = attributes.get("email_domain")
    if isinstance(domain, str) and domain.casefold() in FREE_MAIL:
        out["attr:free_mail=true"] = 1.0
    return out


def content_key(event: Event) -> str | None:
    fields = event.fields
    if event.kind is EventKind.PAGE_VIEW:
        url = str(fields.get("url") or "")
        path = url.split("?", 1)[0].split("#", 1)[0]
        parts = [p for p in path.split("/") if p][:2]
        return "page:/" + "/".join(parts)
    if event.kind is EventKind.CONTENT_DOWNLOAD:
        return f"asset:{fields.get('asset_id')}"
    if event.kind is EventKind.FORM_SUBMIT:
        return f"form:{fields.get('form_id')}"
    if event.kind in (EventKind.SEMINAR_ATTENDED, EventKind.SEMINAR_REGISTERED):
        return f"webinar:{fields.get('webinar_id')}:{event.kind.value.partition('.')[2]}"
    return None


def lead_features(  # noqa: PLR0912 - one pass over a lead's events
    events: list[Event],
    outcome: LeadOutcome,
    rules: Rules,
    window: float,
    content_rules: dict[str, set[str]],
) -> LeadFeatures:
    """`events` are the lead's, in event-time order."""
    attributes: dict[str, FieldValue] = {}
    counts: dict[str, float] = {}
    since = outcome.decided_at - window
    for event in events:
        if event.occurred_at >= outcome.decided_at:
            break
        kind = event.kind
        if kind is EventKind.PROFILE_UPDATED:
            attributes = merge_attributes(attributes, event.fields)
            continue
        if kind.category == "feedback" or event.occurred_at < since:
            continue
        counts[f"type:{kind.value}"] = counts.get(f"type:{kind.value}", 0.0) + 1.0
        key = content_key(event)
        if key is not None:
            counts[key] = counts.get(key, 0.0) + 1.0
        for rule in rules.rules_by_kind.get(kind, ()):
            if rule.when.matches(event.fields):
                name = f"rule:{rule.id}"
                counts[name] = counts.get(name, 0.0) + 1.0
                if key is not None and (rule.when.all_of or rule.when.any_of):
                    content_rules.setdefault(key, set()).add(rule.id)
    values: dict[str, float] = {}
    for name, count in counts.items():
        if name.startswith("rule:"):
            values[name] = min(count, rule_units(rules.rule_by_id[name[5:]]))
        elif name.startswith("type:"):
            values[name] = count
        else:
            values[name] = min(count, CONTENT_CAP)
    for rule_id in matched_fit_rules(attributes, rules):
        values[f"rule:{rule_id}"] = 1.0
    values.update(attribute_features(attributes))
    return LeadFeatures(outcome, values, attributes)


def build_features(
    events: list[Event], outcomes: Mapping[str, LeadOutcome], rules: Rules, window: float
) -> FeatureSet:
    """Features of every lead with a decided outcome (won, lost, rejected, no deal)."""
    by_lead: dict[str, list[Event]] = {}
    for event in events:
        outcome = outcomes.get(event.lead_id)
        if outcome is not None and outcome.labelled and event.occurred_at < outcome.decided_at:
            by_lead.setdefault(event.lead_id, []).append(event)
    content_rules: dict[str, set[str]] = {}
    leads = []
    for lead_id, outcome in outcomes.items():
        if not outcome.labelled:
            continue
        lead_events = by_lead.get(lead_id, [])
        lead_events.sort(key=lambda e: e.occurred_at)
        leads.append(lead_features(lead_events, outcome, rules, window, content_rules))
    leads.sort(key=lambda lf: (lf.outcome.decided_at, lf.outcome.lead_id))
    return FeatureSet(leads, content_rules, window)
