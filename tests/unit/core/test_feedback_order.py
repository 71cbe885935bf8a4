"""Feedback and scenario conditions do not depend on the order the input topics are read
in: a backlog read topic by topic (feedback first, or last, or interleaved) gives the
stages, alerts and scenario actions of the file order, no feedback is refused that file
order accepts, and feedback for a lead never handed off is a fact too (a jump, marked)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from scorer.core import Event, EventKind, LeadState, Outcome, Rules, apply_event, fire_due, replay
from scorer.replay_file import read_events
from scorer.rules import load_rules, parse_rules
from tests.unit.core.builders import T0, ev

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "tests" / "data" / "scenario-events.jsonl"
RULES = load_rules(ROOT / "rules" / "default.yaml")
# The scenario file spans three months; read topic by topic, each lead's events stay
# within this lateness (the guarantee is for events within their allowed lateness).
_TEXT = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
WIDE = parse_rules(
    _TEXT.replace("    default: 6h ", "    default: 120d").replace(
        "    profile: 2d ", "    profile: 120d"
    ),
    "wide.yaml",
)
HOUR = 3600.0
TOPICS = ("web", "email", "seminar", "profile", "feedback")


def _by_topic(events: list[Event]) -> dict[str, list[Event]]:
    return {topic: [e for e in events if e.kind.category == topic] for topic in TOPICS}


def _topics_in_turn(order: tuple[str, ...]) -> Callable[[list[Event]], list[Event]]:
    def arrange(events: list[Event]) -> list[Event]:
        streams = _by_topic(events)
        return [e for topic in order for e in streams[topic]]

    return arrange


def _round_robin(events: list[Event]) -> list[Event]:
    streams = [list(s) for s in _by_topic(events).values()]
    out: list[Event] = []
    while any(streams):
        for stream in reversed(streams):
            if stream:
                out.append(stream.pop(0))
    return out


ORDERS = {
    "feedback-first": _topics_in_turn(("feedback", "profile", "email", "seminar", "web")),
    "feedback-first-web-next": _topics_in_turn(("feedback", "web", "email", "seminar", "profile")),
    "web-last": _topics_in_turn(("feedback", "seminar", "profile", "email", "web")),
    "feedback-last": _topics_in_turn(("web", "seminar", "email", "profile", "feedback")),
    "round-robin": _round_robin,
}


def _backlog(events: Iterable[Event], rules: Rules, until: float) -> dict[str, object]:
    """What a worker reading `events` as one backlog does: score them in this order
    (a lagging partition's clock stays behind the backlog, so no timer fires meanwhile),
    then fire every lead's timers due by `until`."""
    states: dict[str, LeadState] = {}
    alerts: list[str] = []
    actions: list[str] = []
    refused: list[str] = []
    for event in events:
        update = apply_event(states.get(event.lead_id), event, rules, until)
        if update.outcome is not Outcome.APPLIED:
            refused.append(event.event_id)
            continue
        states[event.lead_id] = update.state
        alerts += [a.alert_id for a in update.alerts]
        actions += [a.action_id for a in update.actions]
    for lead_id, state in states.items():
        fired = fire_due(state, rules, until)
        states[lead_id] = fired.state
        alerts += [a.alert_id for a in fired.alerts]
        actions += [a.action_id for a in fired.actions]
    return {
        "stages": {lead: s.stage for lead, s in sorted(states.items())},
        "alerts": sorted(a for a in alerts if a.startswith("lead:")),
        "actions": sorted(actions),
        "refused": sorted(refused),
        "unhanded": sorted(lead for lead, s in states.items() if s.loop.unhanded),
    }


def _file_order(events: list[Event], rules: Rules, until: float) -> dict[str, object]:
    result = replay(events, rules, until=until)
    return {
        "stages": {lead: s.stage for lead, s in sorted(result.leads.items())},
        "alerts": sorted(a for a in result.alert_ids() if a.startswith("lead:")),
        "actions": sorted(result.action_ids()),
        "refused": sorted(r.event_id for r in result.rejected),
        "unhanded": sorted(lead for lead, s in result.leads.items() if s.loop.unhanded),
    }


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_a_backlog_read_topic_by_topic_equals_the_file_order(order: str) -> None:
    events = read_events(SCENARIOS)[0]
    until = max(e.occurred_at for e in events)
    assert WIDE.timing.allowed_lateness_s == 120 * 86400.0
    expected = _file_order(events, WIDE, until)
    assert expected["refused"] == []
    assert "action:inoue:product_a_assign:1:assign" in expected["actions"]  # type: ignore[operator]
    assert _backlog(ORDERS[order](events), WIDE, until) == expected


# -- the scenario `require` is read as of the trigger's event time ------------------------------


def _product_a_journey() -> list[Event]:
    return [
        ev("p", EventKind.PROFILE_UPDATED, T0, "L1", title="部長", employee_count=500,
           industry="製造業", country="JP"),
        ev("d", EventKind.CONTENT_DOWNLOAD, T0 + HOUR, "L1", asset_type="whitepaper",
           product="product-a"),
        ev("f", EventKind.FORM_SUBMIT, T0 + 2 * HOUR, "L1", form_id="demo-request"),
        ev("s", EventKind.SEMINAR_ATTENDED, T0 + 3 * HOUR, "L1", webinar_id="w"),
    ]  # fmt: skip


def test_require_is_judged_as_of_the_trigger_not_the_arrival() -> None:
    """The product-A download (require: new/engaged/recycled) is read after the seminar
    that made the lead an MQL: the assignment still fires, as in file order."""
    journey = _product_a_journey()
    late_download = [journey[0], journey[2], journey[3], journey[1]]
    until = T0 + 4 * HOUR
    in_order = _file_order(journey, RULES, until)
    assert in_order["stages"] == {"L1": "mql"}
    assert in_order["actions"] == ["action:L1:product_a_assign:1:assign"]
    assert _backlog(late_download, RULES, until) == in_order


# -- feedback before any hand-off ---------------------------------------------------------------


def test_feedback_that_overtakes_the_hand_off_waits_for_it() -> None:
    accepted = ev("a", EventKind.FEEDBACK_ACCEPTED, T0 + 4 * HOUR, "L1")
    journey = [*_product_a_journey(), accepted]
    until = T0 + 5 * HOUR
    in_order = _file_order(journey, RULES, until)
    assert in_order["stages"] == {"L1": "sal"}
    first = _backlog([accepted, *journey[:-1]], RULES, until)
    assert first == in_order
    assert first["unhanded"] == []


@pytest.mark.parametrize(
    ("kind", "reason", "stage"),
    [
        (EventKind.FEEDBACK_WON, None, "won"),  # a deal sales found on their own
        (EventKind.FEEDBACK_REJECTED, "competitor", "disqualified"),  # before any hand-off
        (EventKind.FEEDBACK_ACCEPTED, None, "sal"),
    ],
)
def test_feedback_for_a_lead_never_handed_off_is_a_marked_jump(
    kind: EventKind, reason: str | None, stage: str
) -> None:
    fields = {} if reason is None else {"reason": reason}
    events = [
        ev("v", EventKind.PAGE_VIEW, T0, "L2", url="/blog"),
        ev("w", kind, T0 + HOUR, "L2", **fields),
    ]
    lateness = RULES.timing.allowed_lateness_s
    held = replay(events, RULES)
    assert held.rejected == []
    assert held.leads["L2"].stage == "engaged"
    assert [h.event_id for h in held.leads["L2"].loop.held] == ["w"]
    later = replay(events, RULES, until=T0 + HOUR + lateness)
    state = later.leads["L2"]
    assert (state.stage, state.loop.unhanded, state.loop.held) == (stage, True, ())
    assert "never handed off" in str(state.stage_reason)
    assert later.alert_ids() == []


def test_only_feedback_contradicting_a_later_outcome_is_refused() -> None:
    journey = [*_product_a_journey()]
    won = [
        ev("a", EventKind.FEEDBACK_ACCEPTED, T0 + 4 * HOUR, "L1"),
        ev("q", EventKind.FEEDBACK_QUALIFIED, T0 + 5 * HOUR, "L1"),
        ev("w", EventKind.FEEDBACK_WON, T0 + 6 * HOUR, "L1"),
    ]
    stale = ev("x", EventKind.FEEDBACK_REJECTED, T0 + 4.5 * HOUR, "L1", reason="no budget")
    result = replay([*journey, *won, stale], RULES)
    assert result.leads["L1"].stage == "won"
    [refused] = result.rejected
    assert (refused.event_id, refused.outcome) == ("x", Outcome.INVALID_TRANSITION)
    assert "contradicts a later outcome" in str(refused.reason)
    # Qualified without an accept first: a lead already handed off jumps mql -> sql.
    skipped = replay([*journey, won[1]], RULES)
    assert skipped.rejected == []
    assert skipped.leads["L1"].stage == "sql"
    assert skipped.leads["L1"].loop.unhanded is False
