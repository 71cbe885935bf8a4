"""apply_event outcomes, dedup, explanations, alerts and account signals."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from scorer.core import (
    EventKind,
    Explain,
    FieldValue,
    LeadState,
    Outcome,
    apply_event,
    contributions,
    score_at,
    top_reasons_at,
)
from scorer.core.lead_state import with_loop
from tests.unit.core.builders import BASE_RULES, HOUR, MINUTE, T0, ev, rules_with, run

PAGE = EventKind.PAGE_VIEW


@pytest.mark.parametrize(
    ("offset", "now_offset", "outcome"),
    [
        (0.0, 0.0, Outcome.APPLIED),
        (-HOUR, 0.0, Outcome.APPLIED),  # exactly the allowed lateness
        (-HOUR - 1, 0.0, Outcome.TOO_LATE),
        (5 * MINUTE, 0.0, Outcome.APPLIED),  # exactly the future skew tolerance
        (5 * MINUTE + 1, 0.0, Outcome.TOO_FAR_IN_FUTURE),
    ],
    ids=["on-time", "late-at-limit", "too-late", "future-at-limit", "too-far-in-future"],
)
def test_time_outcomes(offset: float, now_offset: float, outcome: Outcome) -> None:
    state, _ = run([ev("first", PAGE, T0, url="/")])
    update = apply_event(state, ev("x", PAGE, T0 + offset, url="/"), BASE_RULES, T0 + now_offset)
    assert update.outcome is outcome
    if outcome is not Outcome.APPLIED:
        assert update.state is state
        assert update.changes == ()
        assert update.alerts == ()
        assert update.reason


def test_lateness_is_judged_against_the_leads_own_watermark_not_now() -> None:
    state, _ = run([ev("first", PAGE, T0, url="/")])
    update = apply_event(
        state, ev("x", PAGE, T0 - 30 * MINUTE, url="/"), BASE_RULES, T0 + 1000 * HOUR
    )
    assert update.outcome is Outcome.APPLIED


def test_duplicate_event_id_changes_nothing() -> None:
    state, _ = run([ev("e1", PAGE, T0, url="/pricing")])
    update = apply_event(state, ev("e1", PAGE, T0, url="/pricing"), BASE_RULES, T0)
    assert update.outcome is Outcome.DUPLICATE
    assert update.state is state


def test_dedup_memory_is_bounded_per_lead() -> None:
    rules = rules_with(explain=Explain(recent_event_ids=3))
    state, _ = run([ev(f"e{i}", PAGE, T0 + i, url="/") for i in range(7)], rules)
    assert state is not None
    # Blocks of 3: {e3, e4, e5} plus the block being filled (e6); {e0, e1, e2} was dropped.
    assert "e4" in state.recent_ids
    assert "e6" in state.recent_ids
    assert len(state.recent_ids) == 4
    assert (
        apply_event(state, ev("e4", PAGE, T0 + 9, url="/"), rules, T0 + 9).outcome
        is Outcome.DUPLICATE
    )
    # e0 fell out of the window, so it is scored again (documented bound).
    assert (
        apply_event(state, ev("e0", PAGE, T0 + 9, url="/"), rules, T0 + 9).outcome
        is Outcome.APPLIED
    )


def test_score_change_carries_the_explanation() -> None:
    state, updates = run([ev("e1", PAGE, T0, url="/pricing/plans")])
    assert state is not None
    by_rule = {c.rule_id: c for c in updates[0].changes}
    assert set(by_rule) == {"web.page", "web.pricing"}
    pricing = by_rule["web.pricing"]
    assert (pricing.event_id, pricing.rules_version, pricing.category) == ("e1", "test.1", "web")
    assert (pricing.points_raw, pricing.points_awarded, pricing.decay_factor) == (5, 5, 1.0)
    assert (pricing.score_before, pricing.score_after) == (0, 6)
    record = pricing.to_record()
    assert record["type"] == "score_change"
    assert record["capped"] is False
    json.dumps(record)


def test_late_change_reports_decay_to_the_watermark() -> None:
    _, updates = run(
        [ev("e1", PAGE, T0, url="/"), ev("e0", PAGE, T0 - 30 * MINUTE, url="/pricing")]
    )
    (pricing,) = [c for c in updates[1].changes if c.rule_id == "web.pricing"]
    assert pricing.as_of == T0
    assert pricing.decay_factor == pytest.approx(2 ** (-1800 / (14 * 86400)))
    assert pricing.points_now == pytest.approx(5 * pricing.decay_factor)


def test_lead_keeps_the_last_n_changes() -> None:
    rules = rules_with(explain=Explain(last_changes=3))
    state, _ = run([ev(f"e{i}", PAGE, T0 + i, url="/pricing") for i in range(4)], rules)
    assert state is not None
    assert [c.event_id for c in state.changes] == ["e2", "e3", "e3"]


def test_contributions_add_up_to_the_score() -> None:
    state, _ = run(
        [
            ev("p", EventKind.PROFILE_UPDATED, T0, title="部長", employee_count=300),
            ev("a", PAGE, T0 + 1, url="/pricing"),
            ev("b", EventKind.CONTENT_DOWNLOAD, T0 + 2 * HOUR, asset_type="case_study"),
            ev("c", PAGE, T0 + 3 * HOUR, url="/careers"),
        ]
    )
    assert state is not None
    at = T0 + 10 * 86400
    parts = contributions(state, at, BASE_RULES)
    assert parts["fit.title"] == 10
    assert parts["fit.size"] == 10
    assert sum(parts.values()) == pytest.approx(score_at(state, at, BASE_RULES).total, abs=1e-9)


def test_alert_carries_reasons_routing_and_flat_record() -> None:
    events = [
        ev("p", EventKind.PROFILE_UPDATED, T0, title="部長", employee_count=500, industry="製造業"),
        ev("d", EventKind.FORM_SUBMIT, T0 + 1, form_id="demo-request", product="product-a"),
        ev("c", EventKind.CONTENT_DOWNLOAD, T0 + 2, asset_type="case_study", product="product-a"),
        ev("s", EventKind.SEMINAR_ATTENDED, T0 + 3, webinar_id="w1"),
    ]
    _, updates = run(events)
    (mql,) = [a for a in updates[-1].alerts if a.kind == "mql"]
    assert mql.alert_id == "lead:L1:mql:1"
    assert mql.threshold_value == 80
    assert mql.grade == "B1"
    assert mql.occurred_at == T0 + 3
    assert mql.event_id == "s"
    assert (mql.product, mql.team) == ("product-a", "is-product-a")
    assert [r.rule_id for r in mql.reasons][:2] == ["web.demo", "seminar.attended"]
    assert mql.reasons[0].label == "demo request"
    record = mql.to_record()
    assert record["alert_id"] == "lead:L1:mql:1"
    assert record["rules_version"] == "test.1"
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record


def test_default_team_when_no_product() -> None:
    _, updates = run(
        [ev("s", EventKind.SEMINAR_ATTENDED, T0, webinar_id="w")] * 1
        + [ev(f"s{i}", EventKind.SEMINAR_ATTENDED, T0 + i, webinar_id="w") for i in range(1, 4)]
    )
    alerts = [a for u in updates for a in u.alerts]
    assert alerts
    assert all(a.team == "inside-sales" for a in alerts)


def test_account_signal_describes_the_lead() -> None:
    _, updates = run(
        [
            ev(
                "p",
                EventKind.PROFILE_UPDATED,
                T0,
                account="A1",
                title="情報システム部 部長",
                employee_count=800,
            ),
            ev("v", PAGE, T0 + 5, account="A1", url="/pricing"),
        ]
    )
    signal = updates[-1].account_signal
    assert signal is not None
    assert (signal.account_id, signal.lead_id, signal.seq) == ("A1", "L1", 2)
    assert signal.role == "decision_maker"  # first matching role wins
    assert signal.company_fit == 10
    assert signal.fit == 20
    assert signal.last_engaged_at == T0 + 5
    assert signal.engagement_at(T0 + 5, BASE_RULES) == pytest.approx(6)


def test_no_account_no_signal() -> None:
    _, updates = run([ev("v", PAGE, T0, url="/")])
    assert updates[0].account_signal is None


def test_new_rules_version_migrates_and_refits() -> None:
    state, _ = run(
        [ev("p", EventKind.PROFILE_UPDATED, T0, title="部長"), ev("v", PAGE, T0 + 1, url="/")]
    )
    assert state is not None
    with pytest.raises(ValueError, match="unique"):
        replace(BASE_RULES, fit=BASE_RULES.fit + BASE_RULES.fit[:1])
    v2 = replace(BASE_RULES, version="test.2", fit=BASE_RULES.fit[1:])
    update = apply_event(state, ev("w", PAGE, T0 + 2, url="/"), v2, T0 + 2)
    assert update.state.rules_version == "test.2"
    assert update.state.fit == 0
    assert all(c.rules_version == "test.2" for c in update.changes)


def test_state_new_is_empty() -> None:
    state = LeadState.new("L9", BASE_RULES)
    assert (state.stage, state.fit, state.grade, state.last_event_at) == ("new", 0, "D4", None)
    assert score_at(state, T0, BASE_RULES).total == 0


def test_with_loop_replaces_only_the_loop_fields() -> None:
    # `with_loop` copies the fields before `last_active_at` by position.
    assert LeadState._fields[24:] == ("last_active_at", "loop", "rate")
    state, _ = run([ev("a", PAGE, T0, url="/pricing"), ev("b", PAGE, T0 + 1, url="/")])
    assert state is not None
    loop = state.loop._replace(started_at=T0 - 1)
    assert with_loop(state, T0 + 5, loop) == state._replace(last_active_at=T0 + 5, loop=loop)


def test_open_point_is_a_duplicate_even_when_recent_ids_forgot_it() -> None:
    rules = rules_with(explain=Explain(recent_event_ids=2))
    state, _ = run([ev(f"e{i}", PAGE, T0 + i, url="/") for i in range(6)], rules)
    assert state is not None
    assert "e0" not in state.recent_ids
    update = apply_event(state, ev("e0", PAGE, T0, url="/"), rules, T0 + 6)
    assert update.outcome is Outcome.DUPLICATE


def test_top_reasons_at_explains_the_lead() -> None:
    state, _ = run(
        [
            ev("p", EventKind.PROFILE_UPDATED, T0, title="部長"),
            ev("d", EventKind.FORM_SUBMIT, T0 + 1, form_id="demo-request"),
        ]
    )
    assert state is not None
    reasons = top_reasons_at(state, T0 + 1, BASE_RULES)
    assert [(r.rule_id, r.label) for r in reasons] == [
        ("web.demo", "demo request"),
        ("fit.title", "部長クラス以上"),
    ]


def test_leads_share_repeated_immutable_values() -> None:
    """Memory per tracked lead: values every lead would otherwise hold a copy of are
    shared (grades, matched fit rule ids, profile names and values, full awards), and
    sharing changes no value."""
    states = []
    for lead in ("La", "Lb"):
        # Built at run time: equal strings, but distinct objects (as parsed JSON gives).
        industry = "".join(["manu", "facturing"])
        profile: dict[str, FieldValue] = {"title": "部長", "employee_count": 300}
        profile["industry"] = industry
        state, _ = run(
            [
                ev(f"{lead}-p", EventKind.PROFILE_UPDATED, T0, lead=lead, **profile),
                ev(f"{lead}-v", PAGE, T0 + 1, lead=lead, url="/pricing"),
            ]
        )
        assert state is not None
        states.append(state)
    a, b = states
    assert a.grade is b.grade
    assert a.fit_rules is b.fit_rules
    assert a.fit_rules
    assert a.open[0].profile == b.open[0].profile
    assert a.open[0].profile is not None
    assert b.open[0].profile is not None
    (ka, va), (kb, vb) = (
        next((k, v) for k, v in p.items() if k == "industry")
        for p in (a.open[0].profile, b.open[0].profile)
    )
    assert ka is kb
    assert va is vb
    assert a.open[1].awards == b.open[1].awards
    # Full, product-less awards: the same Award objects (a lone one: the same tuple).
    for x, y in zip(a.open[1].awards, b.open[1].awards, strict=True):
        assert x is y
