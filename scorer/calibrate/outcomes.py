"""What became of each lead, and when it was decided: from the sales-feedback events in
the history, or from a CSV export of the CRM.

The decision point is when sales first acted on the lead: its first feedback event (the
hand-off's acceptance, a rejection, or the opportunity for a win sales found itself), or
the CSV's decision date. Features are taken only from before it. A lead with no outcome
counts as "no deal" once `horizon` has passed since its first event (its decision point
is then first event + horizon); younger ones are too recent to judge and left out
(counted). Wins that never crossed the threshold are ordinary wins here: calibration
learns most from them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scorer.calibrate.history import History, Problem
from scorer.core import Event, EventKind

WON, LOST, REJECTED, OPEN, NO_DEAL = "won", "lost", "rejected", "open", "no_deal"
CSV_OUTCOMES = {
    "won": WON,
    "lost": LOST,
    "rejected": REJECTED,
    "disqualified": REJECTED,
    "qualified": OPEN,
    "open": OPEN,
}
CSV_COLUMNS = ("lead_id", "outcome", "decision_date")


@dataclass(frozen=True, slots=True)
class LeadOutcome:
    lead_id: str
    label: str  # won | lost | rejected | open | no_deal
    decided_at: float  # the decision point: features come from before it
    closed_at: float | None = None  # when it was won (or lost)
    opportunity: bool = False  # reached an opportunity (qualified) or a win
    handed_off: bool = False  # sales accepted a hand-off

    @property
    def won(self) -> bool:
        return self.label == WON

    @property
    def labelled(self) -> bool:
        """Usable for training: decided either way."""
        return self.label != OPEN


@dataclass(slots=True)
class Outcomes:
    by_lead: dict[str, LeadOutcome] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    too_recent: int = 0
    source: str = "feedback events"

    def counts(self) -> dict[str, int]:
        out = {WON: 0, LOST: 0, REJECTED: 0, OPEN: 0, NO_DEAL: 0}
        for outcome in self.by_lead.values():
            out[outcome.label] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        return (
            f"outcomes from {self.source}: {c[WON]:,} won, {c[LOST]:,} lost, "
            f"{c[REJECTED]:,} rejected/disqualified, {c[NO_DEAL]:,} no deal, "
            f"{c[OPEN]:,} still open (not used), {self.too_recent:,} too recent to judge "
            f"(not used)"
        )


def _spans(events: Iterable[Event]) -> tuple[dict[str, float], float]:
    first: dict[str, float] = {}
    end = 0.0
    for event in events:
        t = event.occurred_at
        if event.lead_id not in first or t < first[event.lead_id]:
            first[event.lead_id] = t
        end = max(end, t)
    return first, end


def _fill_no_deals(outcomes: Outcomes, first: dict[str, float], end: float, horizon: float) -> None:
    for lead_id, t in first.items():
        if lead_id in outcomes.by_lead:
            continue
        if t + horizon <= end:
            outcomes.by_lead[lead_id] = LeadOutcome(lead_id, NO_DEAL, t + horizon)
        else:
            outcomes.too_recent += 1


def from_feedback(history: History, horizon: float) -> Outcomes:
    feedback: dict[str, list[Event]] = {}
    for event in history.events:
        if event.kind.category == "feedback":
            feedback.setdefault(event.lead_id, []).append(event)
    outcomes = Outcomes()
    for lead_id, events in feedback.items():
        events.sort(key=lambda e: e.occurred_at)
        kinds = {e.kind: e.occurred_at for e in events}
        decided = events[0].occurred_at
        opportunity = EventKind.FEEDBACK_QUALIFIED in kinds or EventKind.FEEDBACK_WON in kinds
        accepted = EventKind.FEEDBACK_ACCEPTED in kinds
        if EventKind.FEEDBACK_WON in kinds:
            label, closed = WON, kinds[EventKind.FEEDBACK_WON]
        elif EventKind.FEEDBACK_LOST in kinds:
            label, closed = LOST, kinds[EventKind.FEEDBACK_LOST]
        elif EventKind.FEEDBACK_REJECTED in kinds:
            label, closed = REJECTED, kinds[EventKind.FEEDBACK_REJECTED]
        else:
            label, closed = OPEN, None
        outcomes.by_lead[lead_id] = LeadOutcome(
            lead_id, label, decided, closed, opportunity, accepted
        )
    first, end = _spans(history.events)
    _fill_no_deals(outcomes, first, end, horizon)
    return outcomes


def _parse_date(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class OutcomesFileError(Exception):
    """The CSV cannot be read at all (missing columns, not a file)."""


def from_csv(path: Path, history: History, horizon: float) -> Outcomes:
    """A CRM export with columns lead_id, outcome, decision_date (optional closed_date).
    One problem per bad line (unknown lead, unknown outcome, bad date, repeated lead)."""
    first, end = _spans(history.events)
    outcomes = Outcomes(source=str(path))
    seen: dict[str, int] = {}
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise OutcomesFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise OutcomesFileError(
                f"{path}:1: missing column(s) {', '.join(missing)} "
                f"(need a header with {', '.join(CSV_COLUMNS)}[, closed_date])"
            )
        for row in reader:
            line = reader.line_num
            problem = _csv_row(row, line, first, seen, outcomes)
            if problem is not None:
                outcomes.problems.append(Problem(line, problem[0], problem[1]))
    _fill_no_deals(outcomes, first, end, horizon)
    return outcomes


def _csv_row(  # noqa: PLR0911 - one return per kind of bad line
    row: dict[str, str | None],
    line: int,
    known: dict[str, float],
    seen: dict[str, int],
    outcomes: Outcomes,
) -> tuple[str, str] | None:
    lead_id = (row.get("lead_id") or "").strip()
    if lead_id not in known:
        return ("unknown_lead", "lead_id not in the history (no event of that lead)")
    if lead_id in seen:
        return ("repeated_lead", f"lead already given on line {seen[lead_id]} (this line skipped)")
    raw_outcome = (row.get("outcome") or "").strip().casefold()
    label = CSV_OUTCOMES.get(raw_outcome)
    if label is None:
        return ("bad_outcome", f"outcome must be one of {', '.join(CSV_OUTCOMES)}")
    decided = _parse_date(row.get("decision_date") or "")
    if decided is None:
        return ("bad_date", "decision_date is not a date (use YYYY-MM-DD or RFC 3339)")
    closed_text = (row.get("closed_date") or "").strip()
    closed = _parse_date(closed_text) if closed_text else None
    if closed_text and closed is None:
        return ("bad_date", "closed_date is not a date (use YYYY-MM-DD or RFC 3339)")
    if closed is not None and closed < decided:
        return ("bad_date", "closed_date is before decision_date")
    seen[lead_id] = line
    outcomes.by_lead[lead_id] = LeadOutcome(
        lead_id,
        label,
        decided,
        closed if closed is not None else (decided if label in (WON, LOST) else None),
        opportunity=raw_outcome in ("won", "lost", "qualified"),
        handed_off=False,
    )
    return None
