"""Rules and a driver for hand-off loop tests: events and timer firings in one list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from scorer.core import (
    Action,
    ActionKind,
    Alert,
    Event,
    EventKind,
    EventMatch,
    Inactivity,
    LeadState,
    LeadUpdate,
    Lifecycle,
    Outcome,
    Rules,
    Scenario,
    ScenarioAction,
    Sla,
    Stage,
    StateCheck,
    TriggerKind,
    apply_event,
    fire_due,
)
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, T0, ev, ft, when

CONTENT = EventKind.CONTENT_DOWNLOAD
PAGE = EventKind.PAGE_VIEW
OPEN_STAGES = frozenset({Stage.NEW, Stage.ENGAGED, Stage.RECYCLED})


def action(kind: ActionKind, **params: str) -> ScenarioAction:
    return ScenarioAction(kind, MappingProxyType(params))


FOLLOW_UP = Scenario(
    id="follow_up",
    label="料金ページ閲覧の2日後に導入事例集",
    trigger=TriggerKind.EVENT,
    event=EventMatch(frozenset({PAGE}), when(ft("url", globs=("/pricing*",)))),
    delay_s=2 * DAY,
    unless=(EventMatch(frozenset({CONTENT}), when(ft("asset_type", equals=("case_study",)))),),
    require=StateCheck(stages=OPEN_STAGES),
    actions=(action(ActionKind.SEND_EMAIL, template="case-study"),),
)
ASSIGN_A = Scenario(
    id="assign_a",
    trigger=TriggerKind.EVENT,
    event=EventMatch(frozenset({CONTENT}), when(ft("product", equals=("product-a",)))),
    actions=(action(ActionKind.ASSIGN),),
)
DORMANT = Scenario(
    id="dormant",
    trigger=TriggerKind.WENT_COLD,
    actions=(
        action(ActionKind.SEND_EMAIL, template="trend-report"),
        action(ActionKind.ENROLL_NURTURE, program="re-engagement"),
    ),
)
HOT = Scenario(
    id="hot",
    trigger=TriggerKind.STATE,
    state=StateCheck(min_score=45.0),
    cooldown_s=7 * DAY,
    actions=(action(ActionKind.NOTIFY, channel="#sdr"),),
)
BACK_TO_NURTURE = Scenario(
    id="back_to_nurture",
    trigger=TriggerKind.STATE,
    state=StateCheck(stages=frozenset({Stage.RECYCLED})),
    actions=(action(ActionKind.ENROLL_NURTURE, program="recycled"),),
)

LOOP_RULES = replace(
    BASE_RULES,
    scenarios=(FOLLOW_UP, ASSIGN_A, DORMANT),
    inactivity=Inactivity(90 * DAY, frozenset({PAGE, CONTENT, EventKind.FORM_SUBMIT})),
    sla=Sla(4 * HOUR, MappingProxyType({"is-product-a": 2 * HOUR})),
    lifecycle=replace(BASE_RULES.lifecycle, lost_cool_off_s=30 * DAY, recycle_factor=0.5),
)


def loop_rules(**changes: object) -> Rules:
    return replace(LOOP_RULES, **changes)  # type: ignore[arg-type]


def no_cool_off() -> Lifecycle:
    return replace(LOOP_RULES.lifecycle, lost_cool_off_s=0.0)


@dataclass(frozen=True)
class Fire:
    """A `fire_due` call at `at` in a `play` script."""

    at: float


@dataclass
class Played:
    state: LeadState | None = None
    updates: list[LeadUpdate] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def action_ids(self) -> list[str]:
        return [a.action_id for a in self.actions]

    @property
    def alert_ids(self) -> list[str]:
        return [a.alert_id for a in self.alerts]

    def last(self) -> LeadUpdate:
        return self.updates[-1]


def play(
    script: Iterable[Event | Fire], rules: Rules = LOOP_RULES, state: LeadState | None = None
) -> Played:
    """Apply events (processing time = the latest time seen) and fire timers as told."""
    played = Played(state)
    latest = float("-inf")
    for item in script:
        if isinstance(item, Fire):
            assert played.state is not None
            latest = max(latest, item.at)
            update = fire_due(played.state, rules, item.at)
        else:
            latest = max(latest, item.occurred_at)
            update = apply_event(played.state, item, rules, latest)
        played.updates.append(update)
        if update.outcome is Outcome.APPLIED:
            played.state = update.state
            played.actions.extend(update.actions)
            played.alerts.extend(update.alerts)
    return played


def to_mql(start: float = T0, lead: str = "L1", product: str | None = None) -> list[Event]:
    """Fit 30 + demo 30 + case study 15 + seminar 20: the MQL crossing is at start+3."""
    about = {} if product is None else {"product": product}
    return [
        ev("p", EventKind.PROFILE_UPDATED, start, lead, title="部長", employee_count=500,
           industry="製造業"),
        ev("d", EventKind.FORM_SUBMIT, start + 1, lead, form_id="demo-request"),
        ev("c", CONTENT, start + 2, lead, asset_type="case_study", **about),
        ev("s", EventKind.SEMINAR_ATTENDED, start + 3, lead, webinar_id="w1"),
    ]  # fmt: skip


__all__ = ["DAY", "HOUR", "T0", "ev"]
