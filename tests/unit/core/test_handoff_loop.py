"""Inactivity, the SLA after a hand-off, sales feedback, the lost cool-off, recycling."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scorer.core import (
    Event,
    EventKind,
    LeadState,
    Outcome,
    Stage,
    apply_event,
    fire_due,
    next_due,
    score_at,
)
from tests.unit.core.builders import DAY, HOUR, MINUTE, T0, ev
from tests.unit.core.loop_builders import (
    LOOP_RULES,
    PAGE,
    Fire,
    loop_rules,
    no_cool_off,
    play,
    to_mql,
)

ACCEPTED = EventKind.FEEDBACK_ACCEPTED
REJECTED = EventKind.FEEDBACK_REJECTED
QUALIFIED = EventKind.FEEDBACK_QUALIFIED
LOST = EventKind.FEEDBACK_LOST
MQL_AT = T0 + 3  # the crossing of `to_mql()`
DEADLINE = MQL_AT + 4 * HOUR
DORMANT = ["action:L1:dormant:1:send_email", "action:L1:dormant:1:enroll_nurture"]


def visit(event_id: str, at: float) -> Event:
    return ev(event_id, PAGE, at, url="/blog")


# -- inactivity ------------------------------------------------------------------------------


def test_activity_resets_the_inactivity_clock() -> None:
    played = play([visit("v1", T0), visit("v2", T0 + 60 * DAY), Fire(T0 + 90 * DAY)])
    assert played.actions == []
    assert played.state is not None
    assert played.state.cold_since is None
    assert next_due(played.state) == T0 + 150 * DAY  # re-armed lazily, from the last visit
    cold = play([Fire(T0 + 150 * DAY)], state=played.state)
    assert cold.action_ids == DORMANT
    assert {a.decided_at for a in cold.actions} == {T0 + 150 * DAY}
    assert cold.last().cold_change == (False, True)
    assert cold.state is not None
    assert cold.state.cold_since == T0 + 150 * DAY


def test_non_activity_events_do_not_count() -> None:
    played = play(
        [visit("v1", T0), ev("o", EventKind.EMAIL_OPEN, T0 + 80 * DAY), Fire(T0 + 90 * DAY)]
    )
    assert played.action_ids == DORMANT


def test_going_cold_happens_once_per_quiet_stretch() -> None:
    played = play([visit("v1", T0), Fire(T0 + 90 * DAY), Fire(T0 + 400 * DAY)])
    assert played.action_ids == DORMANT
    assert played.state is not None
    assert played.state.timers == ()  # nothing left to fire while cold
    assert played.last().state is played.updates[1].state


def test_cold_then_activity_is_warm_again_and_can_go_cold_again() -> None:
    played = play([visit("v1", T0), Fire(T0 + 90 * DAY), visit("v2", T0 + 100 * DAY)])
    assert played.last().cold_change == (True, False)
    assert played.state is not None
    assert played.state.cold_since is None
    assert next_due(played.state) == T0 + 190 * DAY
    again = play([Fire(T0 + 190 * DAY)], state=played.state)
    assert again.last().cold_change == (False, True)
    assert again.actions == []  # the dormant scenario is once per lifecycle cycle


def test_without_an_inactivity_period_nothing_is_tracked() -> None:
    played = play(
        [visit("v1", T0), visit("v2", T0 + DAY)], loop_rules(inactivity=None, scenarios=())
    )
    assert played.state is not None
    assert (played.state.last_active_at, played.state.timers) == (None, ())


# -- SLA ----------------------------------------------------------------------------------------

SLA_CASES = [
    # (name, feedback after the MQL or None, breach expected)
    ("no-feedback", None, True),
    ("accepted-in-time", (ACCEPTED, DEADLINE - 1), False),
    ("accepted-at-the-deadline", (ACCEPTED, DEADLINE), False),
    ("rejected-in-time", (REJECTED, MQL_AT + HOUR), False),
    ("accepted-after-the-deadline", (ACCEPTED, DEADLINE + 1), True),
]


@pytest.mark.parametrize(
    ("feedback", "breach"), [c[1:] for c in SLA_CASES], ids=[c[0] for c in SLA_CASES]
)
def test_sla_after_a_handoff(feedback: tuple[EventKind, float] | None, breach: bool) -> None:
    script: list[Event | Fire] = [*to_mql()]
    if feedback is not None:
        kind, at = feedback
        script.append(ev("f", kind, at, reason="no budget"))
    played = play([*script, Fire(DEADLINE - 1)])
    assert [a.kind for a in played.alerts] == ["warm", "mql"]
    played = play([Fire(DEADLINE)], state=played.state)
    if not breach:
        assert played.alerts == []
        return
    (alert,) = played.alerts
    assert alert.alert_id == "lead:L1:sla:1"
    assert alert.kind == "sla_breached"
    assert alert.handoff_alert_id == "lead:L1:mql:1"
    assert (alert.deadline, alert.occurred_at) == (DEADLINE, DEADLINE)
    assert (alert.team, alert.stage, alert.epoch) == ("inside-sales", "mql", 1)
    assert alert.event_id == "s"  # the event that crossed the MQL line
    assert alert.score == pytest.approx(
        score_at(played.updates[0].state, DEADLINE, LOOP_RULES).total
    )
    record = alert.to_record()
    assert (record["handoff_alert_id"], record["deadline"]) == ("lead:L1:mql:1", DEADLINE)
    assert play([Fire(DEADLINE + DAY)], state=played.state).alerts == []  # once


def test_the_deadline_depends_on_the_team() -> None:
    played = play([*to_mql(product="product-a"), Fire(MQL_AT + 2 * HOUR)])
    breach = [a for a in played.alerts if a.kind == "sla_breached"]
    assert [(a.team, a.deadline) for a in breach] == [("is-product-a", MQL_AT + 2 * HOUR)]


def test_first_feedback_reports_the_time_since_the_handoff() -> None:
    played = play([*to_mql(), ev("a", ACCEPTED, MQL_AT + 30 * MINUTE)])
    update = played.last()
    assert update.feedback_after_s == 30 * MINUTE
    assert update.stage_change == ("mql", "sal")
    assert update.state.team == "inside-sales"
    assert update.state.handoff is not None
    assert update.state.handoff.answered_at == MQL_AT + 30 * MINUTE
    later = play([ev("q", QUALIFIED, MQL_AT + DAY)], state=update.state).last()
    assert later.feedback_after_s is None  # only the first feedback of a hand-off
    assert later.stage_change == ("sal", "sql")
    assert later.state.team == "inside-sales"  # SAL -> SQL counted for the hand-off's team


def test_no_sla_configured_means_no_deadline() -> None:
    played = play([*to_mql(), Fire(T0 + 10 * DAY)], loop_rules(sla=None))
    assert [a.kind for a in played.alerts] == ["warm", "mql"]
    assert played.state is not None
    assert played.state.handoff is not None
    assert played.state.handoff.deadline is None


# -- sales feedback, recycling -------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ACCEPTED, REJECTED, QUALIFIED, EventKind.FEEDBACK_WON, LOST])
def test_feedback_for_an_unknown_lead_is_held(kind: EventKind) -> None:
    update = apply_event(None, ev("f", kind, T0, reason="competitor"), LOOP_RULES, T0)
    assert update.outcome is Outcome.APPLIED
    assert update.reason is not None
    assert "held" in update.reason
    assert [h.event_id for h in update.state.loop.held] == ["f"]
    assert update.state.stage == "new"
    assert update.actions == ()
    assert update.alerts == ()


def test_rejected_recycled_renewed_engagement_gives_a_second_mql() -> None:
    rules = loop_rules(lifecycle=no_cool_off())
    played = play(
        [
            *to_mql(),
            ev("r", REJECTED, MQL_AT + HOUR, reason="no budget"),
            ev("s2", EventKind.SEMINAR_ATTENDED, T0 + DAY, webinar_id="w2"),
            ev("s3", EventKind.SEMINAR_ATTENDED, T0 + DAY + 1, webinar_id="w3"),
            ev("d2", EventKind.CONTENT_DOWNLOAD, T0 + DAY + 2, asset_type="case_study"),
            Fire(T0 + DAY + 2 + 4 * HOUR),
        ],
        rules,
    )
    mqls = [a.alert_id for a in played.alerts if a.kind == "mql"]
    assert mqls == ["lead:L1:mql:1", "lead:L1:mql:2"]
    rejected = played.updates[4]
    assert rejected.stage_change == ("mql", "recycled")
    assert rejected.state.stage_reason == "rejected by sales (no budget)"
    assert rejected.feedback_after_s == HOUR
    assert played.state is not None
    assert played.state.cycle == 1
    handoff = played.state.handoff
    assert handoff is not None
    assert (handoff.n, handoff.alert_id) == (2, "lead:L1:mql:2")
    # The second hand-off has its own deadline, and its own escalation id.
    assert [a.alert_id for a in played.alerts if a.kind == "sla_breached"] == ["lead:L1:sla:2"]


def _lost(rules: object = LOOP_RULES) -> tuple[LeadState, float]:
    played = play(
        [*to_mql(), ev("a", ACCEPTED, T0 + HOUR), ev("l", LOST, T0 + 2 * HOUR, reason="price")],
        rules,  # type: ignore[arg-type]
    )
    assert played.state is not None
    return played.state, T0 + 2 * HOUR + 30 * DAY


def test_lost_stays_lost_for_the_cool_off_then_is_recycled() -> None:
    state, due = _lost()
    assert (state.stage, state.stage_reason) == ("lost", "lost (price)")
    assert play([Fire(due - 1)], state=state).actions == []
    assert fire_due(state, LOOP_RULES, due - 1).state is state
    update = fire_due(state, LOOP_RULES, due)
    assert update.stage_change == ("lost", "recycled")
    assert update.state.stage_reason == "lost (price), recycled after cool-off"
    assert update.state.cycle == 1
    assert [c.rule_id for c in update.changes] == ["lifecycle.recycle"]
    before = score_at(state, due, LOOP_RULES).engagement
    assert score_at(update.state, due, LOOP_RULES).engagement == pytest.approx(before * 0.5)
    assert update.state.last_event_at == due
    # Re-armed: renewed engagement hands the lead over again.
    again = play(
        [ev(f"s{i}", EventKind.SEMINAR_ATTENDED, due + i, webinar_id=f"w{i}") for i in (1, 2, 3)],
        state=update.state,
    )
    assert "lead:L1:mql:2" in again.alert_ids


def test_lost_without_cool_off_is_recycled_at_once() -> None:
    state, _ = _lost(loop_rules(lifecycle=no_cool_off()))
    assert state.stage == "recycled"
    assert not any(t.kind == "cool_off" for t in state.timers)


def test_disqualified_during_the_cool_off_is_not_recycled() -> None:
    state, due = _lost()
    dq = apply_event(state, ev("dq", REJECTED, T0 + DAY, reason="competitor"), LOOP_RULES, T0 + DAY)
    assert dq.state.stage == "disqualified"
    update = fire_due(dq.state, LOOP_RULES, due)
    assert update.state.stage == "disqualified"
    assert update.stage_change is None
    assert not any(t.kind == "cool_off" for t in update.state.timers)


def test_a_late_tick_recycles_at_the_due_time_in_event_time() -> None:
    """Visits after the due time were applied before the tick came: the recycling is
    inserted at its event-time place, and the lead ends where an on-time tick leaves it."""
    state, due = _lost()
    visits = [visit("v", due + DAY), visit("v2", due + 3 * DAY)]
    late = play([*visits, Fire(due + 4 * DAY)], state=state)
    on_time = play([Fire(due), *visits], state=state)
    assert late.state is not None
    assert on_time.state is not None
    assert late.state.stage == on_time.state.stage == "recycled"
    (point,) = [p for p in late.state.open if p.recycle_factor is not None]
    assert point.t == due
    at = due + 4 * DAY
    assert score_at(late.state, at, LOOP_RULES).total == pytest.approx(
        score_at(on_time.state, at, LOOP_RULES).total
    )


def test_handoff_loop_state_survives_a_stage_with_timers_and_marks() -> None:
    state, _ = _lost()
    assert {t.kind for t in state.timers} == {"cool_off", "inactivity"}
    assert state.handoff is not None
    assert state.handoff.answered_at == T0 + HOUR
    assert state._replace() == state
    assert Stage(state.stage) is Stage.LOST


def test_a_new_inactivity_period_rearms_the_clock_on_migration() -> None:
    played = play([visit("v1", T0), visit("v2", T0 + 10 * DAY)])
    assert played.state is not None
    assert next_due(played.state) == T0 + 90 * DAY  # armed at the first visit, lazily
    shorter = loop_rules(
        version="test.2", inactivity=replace(LOOP_RULES.inactivity, after_s=30 * DAY)
    )  # type: ignore[type-var]
    update = fire_due(played.state, shorter, T0 + 40 * DAY)
    assert update.state.rules_version == "test.2"
    assert update.state.cold_since == T0 + 40 * DAY  # 30 days after the last visit
    assert [a.action_id for a in update.actions] == DORMANT
