"""The offline replay fires timers like a worker: before each event, at the latest event
time, and at the end up to `until`."""

from __future__ import annotations

from scorer.core import EventKind, replay
from tests.unit.core.builders import DAY, HOUR, T0, ev
from tests.unit.core.loop_builders import LOOP_RULES, PAGE, to_mql


def test_timers_fire_before_the_event_that_passes_them() -> None:
    events = [
        ev("v1", PAGE, T0, "L1", url="/pricing"),
        # Another lead's event three days later moves the replay's clock past the due time.
        ev(
            "w", EventKind.CONTENT_DOWNLOAD, T0 + 3 * DAY, "L2", asset_type="x", product="product-a"
        ),
    ]
    result = replay(events, LOOP_RULES)
    assert result.action_ids() == [
        "action:L1:follow_up:1:send_email",
        "action:L2:assign_a:1:assign",
    ]
    assert result.actions[0].decided_at == T0 + 2 * DAY
    assert result.until == T0 + 3 * DAY


def test_until_fires_what_is_due_by_then() -> None:
    events = [ev("v1", PAGE, T0, url="/pricing")]
    assert replay(events, LOOP_RULES).action_ids() == []
    assert replay(events, LOOP_RULES, until=T0 + 2 * DAY - 1).action_ids() == []
    result = replay(events, LOOP_RULES, until=T0 + 100 * DAY)
    assert result.action_ids() == [
        "action:L1:follow_up:1:send_email",
        "action:L1:dormant:1:send_email",
        "action:L1:dormant:1:enroll_nurture",
    ]
    assert result.leads["L1"].cold_since == T0 + 90 * DAY
    records = result.to_records()
    assert [r["action_id"] for r in records if r["type"] == "action"] == result.action_ids()
    lead = next(r for r in records if r["type"] == "lead_score")
    assert lead["at"] == T0 + 100 * DAY  # scores are reported as of `until`


def test_sla_breaches_are_alerts_of_the_replay() -> None:
    result = replay(to_mql(), LOOP_RULES, until=T0 + DAY)
    assert result.alert_ids() == ["lead:L1:warm:1", "lead:L1:mql:1", "lead:L1:sla:1"]
    assert result.alerts[-1].deadline == T0 + 3 + 4 * HOUR


def test_feedback_before_any_activity_is_held_then_a_jump() -> None:
    feedback = [ev("f", EventKind.FEEDBACK_ACCEPTED, T0, "ghost")]
    result = replay(feedback, LOOP_RULES)
    assert result.rejected == []
    assert [h.event_id for h in result.leads["ghost"].loop.held] == ["f"]
    assert result.leads["ghost"].stage == "new"
    lateness = LOOP_RULES.timing.allowed_lateness_s
    result = replay(feedback, LOOP_RULES, until=T0 + lateness)
    ghost = result.leads["ghost"]
    assert (ghost.stage, ghost.loop.held, ghost.loop.unhanded) == ("sal", (), True)
