"""Scenarios: triggers, delays, cancel conditions, re-checked conditions, repeat policy,
deterministic action ids, routing on actions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scorer.core import (
    ActionKind,
    Event,
    EventKind,
    EventMatch,
    FieldValue,
    Outcome,
    Routing,
    RoutingRule,
    Stage,
    StateCheck,
    fire_due,
    next_due,
    score_at,
)
from tests.unit.core.builders import DAY, HOUR, MINUTE, T0, ev, ft, when
from tests.unit.core.loop_builders import (
    ASSIGN_A,
    BACK_TO_NURTURE,
    CONTENT,
    FOLLOW_UP,
    HOT,
    LOOP_RULES,
    PAGE,
    Fire,
    loop_rules,
    no_cool_off,
    play,
    to_mql,
)

DUE = T0 + 2 * DAY  # the follow-up of a pricing view at T0


def pricing(event_id: str = "v1", at: float = T0, lead: str = "L1") -> Event:
    return ev(event_id, PAGE, at, lead, url="/pricing")


def case_study(event_id: str, at: float, lead: str = "L1") -> Event:
    return ev(event_id, CONTENT, at, lead, asset_type="case_study")


# -- triggers ------------------------------------------------------------------------------

TRIGGERS = [
    # (name, rules, script, expected action ids)
    (
        "event-without-delay-fires-at-once",
        LOOP_RULES,
        [ev("w", CONTENT, T0, asset_type="whitepaper", product="product-a")],
        ["action:L1:assign_a:1:assign"],
    ),
    (
        "event-condition-not-met",
        LOOP_RULES,
        [ev("w", CONTENT, T0, asset_type="whitepaper", product="product-b")],
        [],
    ),
    (
        "event-with-delay-waits",
        LOOP_RULES,
        [pricing()],
        [],
    ),
    (
        "state-trigger-score",
        loop_rules(scenarios=(HOT,)),
        [
            ev("f", EventKind.FORM_SUBMIT, T0, form_id="demo-request"),
            ev("s", EventKind.SEMINAR_ATTENDED, T0 + 1, webinar_id="w"),
        ],
        ["action:L1:hot:1:notify"],
    ),
    (
        "state-trigger-stage",
        loop_rules(scenarios=(BACK_TO_NURTURE,), lifecycle=no_cool_off()),
        [*to_mql(), ev("r", EventKind.FEEDBACK_REJECTED, T0 + 10, reason="timing")],
        ["action:L1:back_to_nurture:1:enroll_nurture"],
    ),
    (
        "went-cold",
        LOOP_RULES,
        [ev("v", PAGE, T0, url="/"), Fire(T0 + 90 * DAY)],
        ["action:L1:dormant:1:send_email", "action:L1:dormant:1:enroll_nurture"],
    ),
    (
        "refused-event-triggers-nothing",
        LOOP_RULES,
        [
            ev("v", PAGE, T0, url="/"),
            ev("late", CONTENT, T0 - 2 * HOUR, asset_type="x", product="product-a"),
        ],
        [],
    ),
]


@pytest.mark.parametrize(
    ("rules", "script", "expected"), [t[1:] for t in TRIGGERS], ids=[t[0] for t in TRIGGERS]
)
def test_trigger_kinds(rules: object, script: list, expected: list[str]) -> None:  # type: ignore[type-arg]
    played = play(script, rules)  # type: ignore[arg-type]
    assert played.action_ids == expected


def test_an_action_carries_its_decision() -> None:
    played = play([ev("w", CONTENT, T0, account="A1", asset_type="x", product="product-a")])
    (action,) = played.actions
    assert action.to_record() == {
        "type": "action",
        "action_id": "action:L1:assign_a:1:assign",
        "kind": "assign",
        "lead_id": "L1",
        "account_id": "A1",
        "scenario_id": "assign_a",
        "params": {"team": "is-product-a"},  # no team given: routed by product interest
        "team": "is-product-a",
        "decided_at": T0,
        "rules_version": LOOP_RULES.version,
        "reason": "assign_a",
        "trigger": "web.content_download:w",
    }


# -- delays and cancel conditions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fire_at", "fired"),
    [(DUE - 1, False), (DUE, True), (DUE + 5 * DAY, True)],
    ids=["due-minus-1s", "at-due", "late-tick"],
)
def test_a_delay_fires_exactly_at_due(fire_at: float, fired: bool) -> None:
    played = play([pricing(), Fire(fire_at)])
    assert next_due(play([pricing()]).state) == DUE  # type: ignore[arg-type]
    if not fired:
        assert played.actions == []
        assert played.last().state is played.updates[0].state  # nothing due: unchanged
        return
    (action,) = played.actions
    assert action.action_id == "action:L1:follow_up:1:send_email"
    assert action.decided_at == DUE  # as of the due time, whenever the tick came
    assert action.params == {"template": "case-study"}
    assert action.trigger == "web.page_view:v1"


CANCELS = [
    # (name, script before the firing, fires)
    ("download-meanwhile", [pricing(), case_study("c", T0 + DAY)], False),
    ("download-at-due", [pricing(), case_study("c", DUE)], False),
    ("download-after-due", [pricing(), case_study("c", DUE + 1)], True),
    ("download-before-trigger", [case_study("c", T0 - 10), pricing()], True),
    ("late-trigger-after-its-cancel", [case_study("c", T0 + 30 * MINUTE), pricing()], False),
    ("other-download", [pricing(), ev("w", CONTENT, T0 + DAY, asset_type="whitepaper")], True),
]


@pytest.mark.parametrize(("script", "fires"), [c[1:] for c in CANCELS], ids=[c[0] for c in CANCELS])
def test_cancel_condition(script: list, fires: bool) -> None:  # type: ignore[type-arg]
    played = play([*script, Fire(DUE + 2)])
    assert played.action_ids == (["action:L1:follow_up:1:send_email"] if fires else [])


def test_an_event_that_cancels_and_triggers_the_same_scenario_counts_and_cancels() -> None:
    """An event matching both a scenario's `unless` and its trigger: the cancel comes
    first and drops the pending timer, then the trigger counts (n = 2) but is cancelled
    at birth, since the cancelling event's time lies in its [trigger, due] span."""
    enterprise = EventMatch(frozenset({PAGE}), when(ft("url", globs=("/pricing/enterprise*",))))
    scenario = replace(FOLLOW_UP, id="pricing", unless=(enterprise,))
    rules = loop_rules(scenarios=(scenario, ASSIGN_A))
    view = ev("v2", PAGE, T0 + HOUR, url="/pricing/enterprise")
    armed = play([pricing()], rules)
    assert armed.state is not None
    assert armed.state.scenarios["pricing"].n == 1
    assert "scenario" in [t.kind for t in armed.state.timers]
    played = play([view, Fire(DUE + 3 * DAY)], rules, armed.state)
    assert played.state is not None
    assert played.action_ids == []
    assert played.state.scenarios["pricing"].n == 2
    assert [t.kind for t in played.state.timers] == ["inactivity"]


def test_a_cancelled_trigger_still_counts_for_the_next_id() -> None:
    """Ids number accepted triggers, so a late trigger cancelled at birth and one cancelled
    later leave the same state behind."""
    in_order = play([pricing(), case_study("c", T0 + 30 * MINUTE)])
    late = play([case_study("c", T0 + 30 * MINUTE), pricing()])
    assert in_order.state is not None
    assert late.state is not None
    assert in_order.state.scenarios == late.state.scenarios
    again = play([pricing("v2", T0 + 10 * DAY), Fire(T0 + 13 * DAY)], state=late.state)
    assert again.action_ids == ["action:L1:follow_up:2:send_email"]


@pytest.mark.parametrize(
    ("require", "fires"),
    [
        (StateCheck(stages=frozenset({Stage.NEW, Stage.ENGAGED})), False),
        (StateCheck(min_score=65.0), False),
        (StateCheck(min_score=60.0), True),
        (StateCheck(max_score=10.0), False),
    ],
    ids=["stage-moved-on", "score-decayed-below", "score-still-above", "score-above-max"],
)
def test_conditions_are_rechecked_as_of_the_due_time(require: StateCheck, fires: bool) -> None:
    """Fit 30 + demo 30 + pricing 6 = 66 at T0. Web engagement halves every 14 days, so
    at the due time (2 days later) it is 30 + 36 * 2^(-1/7) = 62.6: a 65 line holds when
    triggered and fails when re-checked. A seminar (+20) meanwhile makes the lead an MQL,
    which fails a stage condition (seminars decay with a 30-day half-life)."""
    scenario = replace(FOLLOW_UP, require=require)
    rules = loop_rules(scenarios=(scenario,))
    script = [
        ev("p", EventKind.PROFILE_UPDATED, T0 - 2, title="部長", employee_count=500,
           industry="製造業"),
        ev("d", EventKind.FORM_SUBMIT, T0 - 1, form_id="demo-request"),
        pricing(),
    ]  # fmt: skip
    if require.stages is not None:
        script.append(ev("s", EventKind.SEMINAR_ATTENDED, T0 + HOUR, webinar_id="w"))
    played = play([*script, Fire(DUE)], rules)
    assert (played.action_ids != []) is fires
    assert played.state is not None
    if require.stages is not None:
        assert played.state.stage == "mql"
    seminar = 20 * 2 ** (-(2 * DAY - HOUR) / (30 * DAY)) if require.stages else 0.0
    assert score_at(played.state, DUE, rules).total == pytest.approx(
        30 + 36 * 2 ** (-1 / 7) + seminar
    )


def test_a_failed_requirement_at_trigger_time_arms_nothing() -> None:
    played = play([*to_mql(), pricing("v", T0 + 10)])
    assert played.state is not None
    assert [t.kind for t in played.state.timers] == ["sla", "inactivity"]


# -- determinism and repeat policy ---------------------------------------------------------------


def test_action_ids_are_deterministic() -> None:
    script: list[Event | Fire] = [
        pricing(),
        ev("w", CONTENT, T0 + 1, asset_type="x", product="product-a"),
        Fire(DUE),
    ]
    first, second = play(script), play(script)
    assert (
        first.action_ids
        == second.action_ids
        == [
            "action:L1:assign_a:1:assign",
            "action:L1:follow_up:1:send_email",
        ]
    )
    assert first.actions == second.actions


def test_once_per_lifecycle_cycle_and_recycling_rearms() -> None:
    rules = loop_rules(lifecycle=no_cool_off())
    played = play(
        [
            pricing("v1", T0),
            pricing("v2", T0 + DAY),  # pending: ignored
            Fire(DUE),
            pricing("v3", T0 + 5 * DAY),  # fired in this cycle: ignored
            Fire(T0 + 10 * DAY),
        ],
        rules,
    )
    assert played.action_ids == ["action:L1:follow_up:1:send_email"]
    assert played.state is not None
    assert played.state.timers[0].kind == "inactivity"
    # Recycled (a rejection): a new cycle, the scenario can fire again, with the next n.
    state = played.state._replace(stage="mql")
    again = play(
        [
            ev("r", EventKind.FEEDBACK_REJECTED, T0 + 11 * DAY, reason="timing"),
            pricing("v4", T0 + 12 * DAY),
            Fire(T0 + 14 * DAY),
        ],
        rules,
        state,
    )
    assert again.action_ids == ["action:L1:follow_up:2:send_email"]
    assert again.state is not None
    assert again.state.cycle == 1


@pytest.mark.parametrize(
    ("gap", "fires_again"), [(DAY, False), (7 * DAY, True)], ids=["within", "after"]
)
def test_cooldown(gap: float, fires_again: bool) -> None:
    rules = loop_rules(scenarios=(HOT,))
    played = play(
        [
            ev("f", EventKind.FORM_SUBMIT, T0, form_id="demo-request"),
            ev("s", EventKind.SEMINAR_ATTENDED, T0 + 1, webinar_id="w"),
            ev("s2", EventKind.SEMINAR_ATTENDED, T0 + 1 + gap, webinar_id="w2"),
        ],
        rules,
    )
    expected = ["action:L1:hot:1:notify"] + (["action:L1:hot:2:notify"] if fires_again else [])
    assert played.action_ids == expected
    assert [a.decided_at for a in played.actions] == [T0 + 1, T0 + 1 + gap][: len(expected)]


ROUTING = Routing(
    default_team="inside-sales",
    by_product={"product-a": "is-product-a"},
    rules=(
        RoutingRule("enterprise", frozenset({"product-a"}), when(ft("employee_count", min=1000))),
        RoutingRule("west", when=when(ft("region", equals=("関西",)))),
    ),
)


@pytest.mark.parametrize(
    ("attributes", "product", "team"),
    [
        ({"employee_count": 5000}, "product-a", "enterprise"),
        ({"employee_count": 5000}, "product-b", "inside-sales"),
        ({"employee_count": 50, "region": "関西"}, "product-a", "west"),
        ({"employee_count": 50}, "product-a", "is-product-a"),
    ],
    ids=["size-and-product", "size-other-product", "region", "product-only"],
)
def test_routing_rules_pick_the_team_of_actions_and_alerts(
    attributes: dict[str, FieldValue], product: str, team: str
) -> None:
    rules = loop_rules(routing=ROUTING)
    played = play(
        [
            ev("p", EventKind.PROFILE_UPDATED, T0, **attributes),  # type: ignore[arg-type]
            ev("v", PAGE, T0 + 1, url="/", product=product),
            Fire(T0 + 91 * DAY),  # dormant: routed on its attributes and product interest
        ],
        rules,
    )
    assert {a.team for a in played.actions} == {team}
    profile = {"title": "部長", "industry": "製造業", **attributes}
    mql = play(
        [
            ev("p", EventKind.PROFILE_UPDATED, T0, **profile),  # type: ignore[arg-type]
            *[ev(f"s{i}", EventKind.SEMINAR_ATTENDED, T0 + i, webinar_id="w", product=product)
              for i in range(1, 5)],
        ],
        rules,
    )  # fmt: skip
    (alert,) = [a for a in mql.alerts if a.kind == "mql"]
    assert alert.team == team
    assert mql.state is not None
    assert mql.state.team == team


def test_assign_with_an_explicit_team() -> None:
    scenario = replace(
        ASSIGN_A,
        actions=(replace(ASSIGN_A.actions[0], params={"team": "partners", "queue": "q1"}),),
    )
    played = play(
        [ev("w", CONTENT, T0, asset_type="x", product="product-a")],
        loop_rules(scenarios=(scenario,)),
    )
    (action,) = played.actions
    assert (action.kind, action.team, dict(action.params)) == (
        ActionKind.ASSIGN.value,
        "partners",
        {"team": "partners", "queue": "q1"},
    )


def test_a_scenario_removed_from_the_rules_drops_its_pending_timer() -> None:
    played = play([pricing()])
    assert played.state is not None
    rules = loop_rules(version="test.2", scenarios=(ASSIGN_A,))
    update = fire_due(played.state, rules, DUE + 1)
    assert update.outcome is Outcome.APPLIED
    assert update.actions == ()
    assert [t.kind for t in update.state.timers] == ["inactivity"]
    assert "follow_up" not in update.state.scenarios
