"""Anonymous visitors and identity links in the offline replay (core/identity.py,
core/identity_replay.py): the merge semantics the README documents, case by case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import Event, EventKind, replay
from scorer.core.identity import IdentityPolicy, Link, Visitor, link, quiet, remember
from scorer.core.replay import ReplayResult
from scorer.rules import load_rules

ROOT = Path(__file__).resolve().parents[3]
RULES = load_rules(ROOT / "rules" / "default.yaml")
DAY = 86400.0
T0 = 1_780_000_000.0  # 2026-05-28
VISITOR, OTHER = "visitor-0001", "visitor-0002"
ANON, ANON2 = f"anon:{VISITOR}", f"anon:{OTHER}"
LEAD, LEAD2 = "lead-yamada", "lead-sato"


def view(event_id: str, lead_id: str, t: float, url: str = "/pricing") -> Event:
    return Event(event_id, lead_id, EventKind.PAGE_VIEW, t, None, MappingProxyType({"url": url}))


def download(event_id: str, lead_id: str, t: float) -> Event:
    fields = MappingProxyType({"asset_type": "case_study", "asset_id": "case-1"})
    return Event(event_id, lead_id, EventKind.CONTENT_DOWNLOAD, t, None, fields)


FORM = {"form_id": "contact"}


def form(event_id: str, lead_id: str, t: float) -> list[Event]:
    profile = MappingProxyType({"title": "製造部 部長", "employee_count": 150,
                                "industry": "manufacturing", "country": "JP"})  # fmt: skip
    return [
        Event(f"{event_id}-p", lead_id, EventKind.PROFILE_UPDATED, t, None, profile),
        Event(event_id, lead_id, EventKind.FORM_SUBMIT, t, None, MappingProxyType(FORM)),
    ]


def journey(lead_id: str, t: float = T0) -> list[Event]:
    """Pricing three times and a case study, in an hour."""
    return [
        view("pv-1", lead_id, t),
        view("pv-2", lead_id, t + 600),
        view("pv-3", lead_id, t + 1200),
        download("dl-1", lead_id, t + 1800),
    ]


def as_link(link_id: str, visitor_id: str, lead_id: str, t: float) -> Link:
    return Link(link_id, visitor_id, lead_id, t)


def totals(result: ReplayResult, at: float) -> dict[str, float]:
    return {lead: round(s.total, 6) for lead, s in result.scores_at(at).items()}


END = T0 + 2 * DAY


def test_anonymous_history_counts_for_the_lead_exactly_as_its_own() -> None:
    form_at = T0 + DAY
    merged = replay(
        [*journey(ANON), as_link("l1", VISITOR, LEAD, form_at), *form("f1", LEAD, form_at)],
        RULES, until=END,
    )  # fmt: skip
    own = replay([*journey(LEAD), *form("f1", LEAD, form_at)], RULES, until=END)
    assert totals(merged, END)[LEAD] == totals(own, END)[LEAD]
    assert merged.leads[LEAD].last_event_at == own.leads[LEAD].last_event_at
    # The MQL alert names the anonymous page views among its reasons.
    (mql,) = [a for a in merged.alerts if a.kind == "mql"]
    assert mql.lead_id == LEAD
    assert {"web.pricing_view", "web.case_study_download"} <= {r.rule_id for r in mql.reasons}
    assert [a.alert_id for a in merged.alerts] == [a.alert_id for a in own.alerts]


def test_the_merge_does_not_depend_on_whether_the_form_or_the_link_comes_first() -> None:
    form_at = T0 + DAY
    link_first = [*journey(ANON), as_link("l1", VISITOR, LEAD, form_at), *form("f1", LEAD, form_at)]
    form_first = [*journey(ANON), *form("f1", LEAD, form_at), as_link("l1", VISITOR, LEAD, form_at)]
    assert (
        totals(replay(link_first, RULES, until=END), END)[LEAD]
        == totals(replay(form_first, RULES, until=END), END)[LEAD]
    )


def test_an_anonymous_lead_never_alerts_acts_or_signals_an_account() -> None:
    busy = [
        replace(e, account_id="acct-1")
        for e in [*journey(ANON), *form("f1", ANON, T0 + 3600), view("pv-9", ANON, T0 + 3 * DAY)]
    ]
    result = replay(busy, RULES, until=T0 + 10 * DAY)
    assert result.scores_at(T0 + 3600)[ANON].total >= 80, "scored like any lead"
    assert result.alerts == []
    assert result.actions == []
    assert result.accounts == {}
    from scorer.stream.views import is_hot, staged_lead

    anonymous = result.leads[ANON]
    assert not is_hot(anonymous, RULES)
    assert not staged_lead(anonymous, RULES, T0 + 3600, was_hot=False).hot, "not ranked hot"


# (case, events after the anonymous journey at T0, expected total points source per lead)
LINK_CASES: list[tuple[str, list[Event | Link], dict[str, set[str]]]] = [
    ("a replayed link changes nothing",
     [as_link("l1", VISITOR, LEAD, T0 + DAY), as_link("l1", VISITOR, LEAD, T0 + DAY)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1"}}),
    ("the same link published twice with new ids changes nothing",
     [as_link("l1", VISITOR, LEAD, T0 + DAY), as_link("l2", VISITOR, LEAD, T0 + DAY)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1"}}),
    ("later visitor events go to the lead",
     [as_link("l1", VISITOR, LEAD, T0 + DAY), view("pv-4", ANON, T0 + DAY + 60)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1", "pv-4"}}),
    ("one visitor, two leads: history to the first, events after the second link to it",
     [as_link("l1", VISITOR, LEAD, T0 + DAY), view("pv-4", ANON, T0 + DAY + 60),
      as_link("l2", VISITOR, LEAD2, T0 + DAY + 120), view("pv-5", ANON, T0 + DAY + 180)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1", "pv-4"}, LEAD2: {"pv-5"}}),
    ("a late event goes to the lead of the link at its time",
     [as_link("l1", VISITOR, LEAD, T0 + DAY), as_link("l2", VISITOR, LEAD2, T0 + DAY + 120),
      view("pv-4", ANON, T0 + DAY + 60)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1", "pv-4"}, LEAD2: set()}),
    ("two visitors, one lead: both histories merge",
     [view("pv-b1", ANON2, T0 + 100), as_link("l1", VISITOR, LEAD, T0 + DAY),
      as_link("l2", OTHER, LEAD, T0 + DAY + 60)],
     {LEAD: {"pv-1", "pv-2", "pv-3", "dl-1", "pv-b1"}}),
    ("history older than the look-back stays anonymous",
     [as_link("l1", VISITOR, LEAD, T0 + 91 * DAY)],
     {LEAD: set()}),
    ("a link before any visit: every visit goes to the lead",
     [as_link("l0", OTHER, LEAD2, T0 - DAY), view("pv-b1", ANON2, T0 + 100)],
     {LEAD2: {"pv-b1"}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("events", "expected"), [c[1:] for c in LINK_CASES], ids=[c[0] for c in LINK_CASES]
)
def test_identity_link_cases(events: list[Event | Link], expected: dict[str, set[str]]) -> None:
    result = replay([*journey(ANON), *events], RULES)
    for lead_id, event_ids in expected.items():
        state = result.leads.get(lead_id)
        applied = set() if state is None else {c.event_id for c in state.changes}
        assert applied == event_ids, lead_id


def test_a_visitor_keeps_a_bounded_recent_history() -> None:
    policy = IdentityPolicy(lookback_s=10 * DAY, max_events=3)
    visitor: Visitor | None = None
    for i in range(6):
        visitor = remember(visitor, view(f"pv-{i}", ANON, T0 + i * DAY), policy)
    assert visitor is not None
    assert [e.event_id for e in visitor.history] == ["pv-3", "pv-4", "pv-5"]
    visitor = remember(visitor, view("pv-20", ANON, T0 + 20 * DAY), policy)
    assert [e.event_id for e in visitor.history] == ["pv-20"], "older than the look-back"
    linked, moved = link(visitor, as_link("l1", VISITOR, LEAD, T0 + 21 * DAY), policy)
    assert [e.lead_id for e in moved] == [LEAD]
    assert linked.history == ()
    assert Visitor.from_record(linked.to_record()) == linked


def test_quiet_leaves_known_leads_alone() -> None:
    result = replay([*journey(LEAD), *form("f1", LEAD, T0 + DAY)], RULES, until=END)
    assert result.alerts, "a known lead alerts"
    state = result.leads[LEAD]
    from scorer.core.lead_state import LeadUpdate, Outcome

    update = LeadUpdate(state=state, outcome=Outcome.APPLIED, alerts=tuple(result.alerts))
    assert quiet(update) is update


def test_score_file_reads_links_and_merges_the_anonymous_history(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    from scorer.replay_file import replay_file

    def when(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat()

    lines = [
        {"event_id": "pv-1", "lead_id": ANON, "type": "web.page_view", "url": "/pricing",
         "occurred_at": when(T0)},
        {"type": "identity.link", "link_id": "l1", "visitor_id": VISITOR,
         "anonymous_lead_id": ANON, "lead_id": LEAD, "method": "crm",
         "occurred_at": when(T0 + 60)},
        {"type": "identity.link", "link_id": "bad", "visitor_id": VISITOR,
         "anonymous_lead_id": "anon:someone-else", "lead_id": LEAD, "method": "crm",
         "occurred_at": when(T0 + 60)},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    records = [
        json.loads(r)
        for r in replay_file(path, ROOT / "rules" / "default.yaml", as_of=when(T0 + 120))
    ]
    scores = {r["lead_id"]: r for r in records if r["type"] == "lead_score"}
    assert scores[LEAD]["engagement"] == scores[ANON]["engagement"] > 0
    assert [r["line"] for r in records if r["type"] == "invalid"] == [3]


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(7)))
def test_the_merge_does_not_depend_on_arrival_order(order: list[int]) -> None:
    """The anonymous visits, the link and the form in any order (the link and form at the
    form's time, a day after the visits): the lead scores as if the visits were its own."""
    form_at = T0 + DAY
    items: list[Event | Link] = [
        *journey(ANON),
        as_link("l1", VISITOR, LEAD, form_at),
        *form("f1", LEAD, form_at),
    ]
    merged = replay([items[i] for i in order], RULES, until=END)
    own = replay([*journey(LEAD), *form("f1", LEAD, form_at)], RULES, until=END)
    assert totals(merged, END)[LEAD] == totals(own, END)[LEAD]
    assert [a.alert_id for a in merged.alerts] == [a.alert_id for a in own.alerts]
