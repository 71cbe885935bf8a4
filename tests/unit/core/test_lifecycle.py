"""Every lifecycle transition: feedback that fits moves the stage; feedback that does not
fit a lead already handed off jumps to its stage; feedback that finds a lead before any
hand-off is held (see feedback.py and test_feedback_order.py); final stages refuse."""

from __future__ import annotations

import pytest

from scorer.core import EventKind, LeadState, Lifecycle, Outcome, Stage, apply_event, score_at
from tests.unit.core.builders import BASE_RULES, DAY, T0, ev, rules_with, run

ACCEPTED = EventKind.FEEDBACK_ACCEPTED
REJECTED = EventKind.FEEDBACK_REJECTED
QUALIFIED = EventKind.FEEDBACK_QUALIFIED
WON = EventKind.FEEDBACK_WON
LOST = EventKind.FEEDBACK_LOST

VALID = {
    (Stage.MQL, ACCEPTED): Stage.SAL,
    (Stage.MQL, REJECTED): Stage.RECYCLED,
    (Stage.SAL, REJECTED): Stage.RECYCLED,
    (Stage.SAL, QUALIFIED): Stage.SQL,
    (Stage.SQL, WON): Stage.WON,
    (Stage.SAL, LOST): Stage.RECYCLED,  # recycle_lost: lost leads go back to nurture
    (Stage.SQL, LOST): Stage.RECYCLED,
}
# Where a feedback that does not fit a handed-off lead jumps to.
JUMP = {ACCEPTED: Stage.SAL, REJECTED: Stage.RECYCLED, QUALIFIED: Stage.SQL, WON: Stage.WON,
        LOST: Stage.RECYCLED}  # fmt: skip
BEFORE_HANDOFF = {Stage.NEW, Stage.ENGAGED, Stage.RECYCLED}
FINAL = {Stage.WON, Stage.DISQUALIFIED}


def _expected(stage: Stage, kind: EventKind) -> str:
    if (stage, kind) in VALID:
        return VALID[stage, kind].value
    if stage in BEFORE_HANDOFF:
        return "held"
    if stage in FINAL:
        return "refused"
    return f"jump:{JUMP[kind].value}"


ALL_CASES = [
    (stage, kind, _expected(stage, kind))
    for stage in Stage
    for kind in (ACCEPTED, REJECTED, QUALIFIED, WON, LOST)
]


def in_stage(stage: Stage) -> LeadState:
    return LeadState.new("L1", BASE_RULES)._replace(stage=stage.value, last_event_at=T0)


@pytest.mark.parametrize(
    ("stage", "kind", "expected"),
    ALL_CASES,
    ids=[f"{s.value}-{k.value.split('.')[1]}-{e}" for s, k, e in ALL_CASES],
)
def test_feedback_transitions(stage: Stage, kind: EventKind, expected: str) -> None:
    state = in_stage(stage)
    update = apply_event(state, ev("f1", kind, T0 + 1, reason="timing"), BASE_RULES, T0 + 1)
    if expected == "refused":
        assert update.outcome is Outcome.INVALID_TRANSITION
        assert update.state is state
        assert update.reason is not None
        assert stage.value in update.reason
        assert update.stage_change is None
    elif expected == "held":
        assert update.outcome is Outcome.APPLIED
        assert update.state.stage == stage.value
        assert [h.event_id for h in update.state.loop.held] == ["f1"]
        assert update.stage_change is None
    else:
        target = expected.removeprefix("jump:")
        assert update.outcome is Outcome.APPLIED
        assert update.state.stage == target
        if target != stage.value:
            assert update.stage_change == (stage.value, target)
        assert update.state.loop.unhanded is False
        if expected.startswith("jump:"):
            assert f"(from {stage.value})" in str(update.state.stage_reason)


def test_lost_without_recycling_stays_lost() -> None:
    rules = rules_with(lifecycle=Lifecycle(recycle_lost=False))
    state = LeadState.new("L1", rules)._replace(stage=Stage.SQL.value, last_event_at=T0)
    update = apply_event(state, ev("f1", LOST, T0 + 1), rules, T0 + 1)
    assert update.state.stage == "lost"


@pytest.mark.parametrize(
    "stage", [Stage.MQL, Stage.SAL, Stage.SQL, Stage.LOST], ids=lambda s: s.value
)
def test_disqualify_reason_disqualifies_from_any_handed_off_stage(stage: Stage) -> None:
    update = apply_event(
        in_stage(stage), ev("f1", REJECTED, T0 + 1, reason="Competitor"), BASE_RULES, T0 + 1
    )
    assert update.outcome is Outcome.APPLIED
    assert update.state.stage == "disqualified"


@pytest.mark.parametrize("stage", [Stage.WON, Stage.DISQUALIFIED], ids=lambda s: s.value)
def test_terminal_stages_cannot_be_disqualified(stage: Stage) -> None:
    update = apply_event(
        in_stage(stage), ev("f1", REJECTED, T0 + 1, reason="student"), BASE_RULES, T0 + 1
    )
    assert update.outcome is Outcome.INVALID_TRANSITION


def _to_mql() -> list:  # type: ignore[type-arg]
    return [
        ev("p", EventKind.PROFILE_UPDATED, T0, title="部長", employee_count=500, industry="製造業"),
        ev("d", EventKind.FORM_SUBMIT, T0 + 1, form_id="demo-request"),
        ev("c", EventKind.CONTENT_DOWNLOAD, T0 + 2, asset_type="case_study"),
        ev("s", EventKind.SEMINAR_ATTENDED, T0 + 3, webinar_id="w1"),
    ]


def test_score_driven_transitions_new_engaged_mql() -> None:
    _, updates = run(_to_mql())
    assert [u.stage_change for u in updates] == [None, ("new", "engaged"), None, ("engaged", "mql")]
    (alert,) = [a for a in updates[3].alerts if a.kind == "mql"]
    assert alert.stage == "mql"
    assert alert.score == pytest.approx(30 + 30 + 15 + 20, abs=1e-3)


def test_recycle_resets_engagement_and_rearms_mql() -> None:
    state, updates = run([*_to_mql(), ev("r", REJECTED, T0 + 10, reason="no budget")])
    assert state is not None
    assert updates[-1].stage_change == ("mql", "recycled")
    assert state.stage_reason == "rejected by sales (no budget)"
    assert score_at(state, T0 + 10, BASE_RULES).engagement == pytest.approx(0, abs=1e-9)
    assert [c.rule_id for c in updates[-1].changes] == ["lifecycle.recycle"]
    again = [
        ev("d2", EventKind.CONTENT_DOWNLOAD, T0 + DAY, asset_type="case_study"),
        ev("s2", EventKind.SEMINAR_ATTENDED, T0 + DAY + 1, webinar_id="w2"),
        ev("s3", EventKind.SEMINAR_ATTENDED, T0 + DAY + 2, webinar_id="w3"),
    ]
    state, more = run(again, state=state)
    assert state is not None
    ids = [a.alert_id for u in more for a in u.alerts]
    assert "lead:L1:mql:2" in ids
    assert state.stage == "mql"


def test_recycle_discount_keeps_a_share_of_engagement() -> None:
    rules = rules_with(lifecycle=Lifecycle(recycle_factor=0.5))
    state, _ = run([*_to_mql(), ev("r", REJECTED, T0 + 4)], rules)
    assert state is not None
    before = 30 + 15 + 20
    assert score_at(state, T0 + 4, rules).engagement == pytest.approx(before / 2, rel=1e-4)


def test_sales_stages_do_not_realert() -> None:
    state, _ = run([*_to_mql(), ev("a", ACCEPTED, T0 + 4)])
    assert state is not None
    assert state.stage == "sal"
    _, updates = run([ev("s9", EventKind.SEMINAR_ATTENDED, T0 + 5, webinar_id="w9")], state=state)
    assert updates[0].alerts == ()
