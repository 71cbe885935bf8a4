"""Why a score is what it is: per-change records and per-rule contributions.

Every change carries the rule id and version, the event id, the points before and after
the cap and the decay applied so far, so the audit trail always adds up to the score.
"""

from __future__ import annotations

from typing import NamedTuple


class Reason(NamedTuple):
    """One contributor to a score at a given time (fit rules are undecayed); for an
    account, `contact` is the lead the points came from."""

    rule_id: str
    label: str
    points: float
    contact: str | None = None

    def to_record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "rule_id": self.rule_id,
            "label": self.label,
            "points": self.points,
        }
        if self.contact is not None:
            record["contact"] = self.contact
        return record

    @classmethod
    def from_record(cls, raw: dict[str, object]) -> Reason:
        contact = raw.get("contact")
        return cls(
            str(raw["rule_id"]),
            str(raw["label"]),
            _f(raw["points"]),
            None if contact is None else str(contact),
        )


class ScoreChange(NamedTuple):
    """One rule's effect on one lead, caused by one event.

    `points_raw` is the rule's points, `points_awarded` what the cap / once-only rule let
    through (for fit: the change of that rule's fit points), `decay_factor` the decay from
    the contributing event's time to `as_of` (the lead's watermark after the event), and
    `points_now` = points_awarded * decay_factor. Score before/after are read at `as_of`.
    A late event can lower another event's capped award: that shows up as a change with
    the other event's id and `note="cap_shifted"`.
    """

    lead_id: str
    event_id: str
    rule_id: str
    rules_version: str
    category: str
    points_raw: float
    points_awarded: float
    decay_factor: float
    points_now: float
    score_before: float
    score_after: float
    occurred_at: float
    as_of: float
    note: str | None = None

    @property
    def capped(self) -> bool:
        return self.points_awarded != self.points_raw

    def to_record(self) -> dict[str, object]:
        return {
            "type": "score_change",
            "lead_id": self.lead_id,
            "event_id": self.event_id,
            "rule_id": self.rule_id,
            "rules_version": self.rules_version,
            "category": self.category,
            "points_raw": self.points_raw,
            "points_awarded": self.points_awarded,
            "capped": self.capped,
            "decay_factor": self.decay_factor,
            "points_now": self.points_now,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "occurred_at": self.occurred_at,
            "as_of": self.as_of,
            "note": self.note,
        }

    @classmethod
    def from_record(cls, raw: dict[str, object]) -> ScoreChange:
        note = raw.get("note")
        return cls(
            lead_id=str(raw["lead_id"]),
            event_id=str(raw["event_id"]),
            rule_id=str(raw["rule_id"]),
            rules_version=str(raw["rules_version"]),
            category=str(raw["category"]),
            points_raw=_f(raw["points_raw"]),
            points_awarded=_f(raw["points_awarded"]),
            decay_factor=_f(raw["decay_factor"]),
            points_now=_f(raw["points_now"]),
            score_before=_f(raw["score_before"]),
            score_after=_f(raw["score_after"]),
            occurred_at=_f(raw["occurred_at"]),
            as_of=_f(raw["as_of"]),
            note=None if note is None else str(note),
        )


def top_reasons(
    contributions: dict[str, float], labels: dict[str, str], n: int
) -> tuple[Reason, ...]:
    """The `n` biggest positive contributors, biggest first (what pushed the score up),
    ties broken by rule id; negatives are listed apart (`negative_reasons`)."""
    return tuple(
        Reason(rule_id, labels.get(rule_id, rule_id), pts)
        for rule_id, pts in ranked(contributions, n)
    )


def negative_reasons(
    contributions: dict[str, float], labels: dict[str, str], n: int
) -> tuple[Reason, ...]:
    """The `n` biggest negative contributors, most negative first, ties by rule id."""
    return tuple(
        Reason(rule_id, labels.get(rule_id, rule_id), pts)
        for rule_id, pts in ranked_negative(contributions, n)
    )


def ranked(contributions: dict[str, float], n: int) -> list[tuple[str, float]]:
    """(rule id, points) of the `n` biggest positive contributors (see `top_reasons`)."""
    return sorted(
        (item for item in contributions.items() if item[1] > 0.0),
        key=lambda item: (-item[1], item[0]),
    )[:n]


def ranked_negative(contributions: dict[str, float], n: int) -> list[tuple[str, float]]:
    """(rule id, points) of the `n` most negative contributors (see `negative_reasons`)."""
    return sorted(
        (item for item in contributions.items() if item[1] < 0.0),
        key=lambda item: (item[1], item[0]),
    )[:n]


def _f(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
