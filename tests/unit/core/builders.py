"""Small builders for core tests: events, rules and running a lead through events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from scorer.core import (
    AccountRules,
    AccountThreshold,
    BuyingRole,
    Cap,
    Category,
    Condition,
    EngagementRule,
    Event,
    EventKind,
    FieldTest,
    FieldValue,
    FitLevel,
    FitRule,
    LeadState,
    LeadUpdate,
    Lifecycle,
    Routing,
    Rules,
    Stage,
    Threshold,
    Timing,
    apply_event,
)

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
T0 = 1_777_593_600.0  # 2026-05-01T00:00:00Z


def ev(
    event_id: str,
    kind: EventKind | str,
    at: float,
    lead: str = "L1",
    account: str | None = None,
    **fields: FieldValue,
) -> Event:
    return Event(event_id, lead, EventKind(kind), at, account, fields)


def ft(name: str, **kwargs: object) -> FieldTest:
    return FieldTest.create(name, **kwargs)  # type: ignore[arg-type]


def when(*tests: FieldTest) -> Condition:
    return Condition(all_of=tests)


PAGE = EventKind.PAGE_VIEW

BASE_RULES = Rules(
    version="test.1",
    categories=(
        Category("web", 14 * DAY),
        Category("email", 30 * DAY),
        Category("seminar", 30 * DAY),
        Category("penalty", None),
    ),
    fit=(
        FitRule(
            "fit.title",
            10,
            Condition(
                any_of=(
                    (ft("title", contains=("部長", "役員", "Director", "VP", "Head of")),),
                    (ft("seniority", equals=("c_level", "vp", "director")),),
                )
            ),
            label="部長クラス以上",
        ),
        FitRule(
            "fit.size",
            10,
            when(ft("employee_count", min=100)),
            label="従業員数100名以上",
            level=FitLevel.COMPANY,
        ),
        FitRule(
            "fit.industry",
            10,
            when(ft("industry", equals=("manufacturing", "製造業"))),
            label="製造業",
            level=FitLevel.COMPANY,
        ),
        FitRule("fit.student", -50, when(ft("seniority", equals=("student",))), label="学生"),
    ),
    engagement=(
        EngagementRule("web.page", frozenset({PAGE}), 1, cap=Cap(10, DAY), label="page view"),
        EngagementRule(
            "web.pricing",
            frozenset({PAGE}),
            5,
            when(ft("url", globs=("/pricing*",))),
            label="料金ページ閲覧",
        ),
        EngagementRule(
            "web.case_study",
            frozenset({EventKind.CONTENT_DOWNLOAD}),
            15,
            when(ft("asset_type", equals=("case_study",))),
            label="導入事例ダウンロード",
        ),
        EngagementRule(
            "web.demo",
            frozenset({EventKind.FORM_SUBMIT}),
            30,
            when(ft("form_id", equals=("demo-request",))),
            once=True,
            label="demo request",
        ),
        EngagementRule(
            "web.careers",
            frozenset({PAGE}),
            -10,
            when(ft("url", globs=("/careers*",))),
            label="careers page",
        ),
        EngagementRule("email.click", frozenset({EventKind.EMAIL_CLICK}), 3, cap=Cap(9, 7 * DAY)),
        EngagementRule(
            "email.unsubscribe",
            frozenset({EventKind.EMAIL_UNSUBSCRIBE}),
            -20,
            category="penalty",
            once=True,
        ),
        EngagementRule("seminar.attended", frozenset({EventKind.SEMINAR_ATTENDED}), 20),
    ),
    thresholds=(
        Threshold("warm", 50, 40),
        Threshold("mql", 80, 60, moves_to=Stage.MQL),
    ),
    lifecycle=Lifecycle(
        recycle_factor=0.0, disqualify_reasons=frozenset({"competitor", "student"})
    ),
    routing=Routing(default_team="inside-sales", by_product={"product-a": "is-product-a"}),
    timing=Timing(allowed_lateness_s=HOUR, future_skew_s=5 * MINUTE),
    account=AccountRules(
        engaged_window_s=14 * DAY,
        engaged_min_points=5,
        roles=(
            BuyingRole("decision_maker", when(ft("title", contains=("部長", "Director")))),
            BuyingRole("technical", when(ft("title", contains=("Engineer", "情報システム")))),
        ),
        role_points=5,
        thresholds=(AccountThreshold("mqa", 60, 40, min_engaged_contacts=3, min_roles=2),),
    ),
)


def rules_with(**changes: object) -> Rules:
    return replace(BASE_RULES, **changes)  # type: ignore[arg-type]


def run(
    events: Iterable[Event], rules: Rules = BASE_RULES, state: LeadState | None = None
) -> tuple[LeadState | None, list[LeadUpdate]]:
    """Apply events in the given order; `now` is the latest event time seen."""
    updates = []
    latest = float("-inf")
    for event in events:
        latest = max(latest, event.occurred_at)
        update = apply_event(state, event, rules, latest)
        updates.append(update)
        state = update.state
    return state, updates
