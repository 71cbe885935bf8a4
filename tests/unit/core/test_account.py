"""Account (ABM) fold: engagement from members, engaged contacts, roles, MQA."""

from __future__ import annotations

import pytest

from scorer.core import (
    AccountAggregate,
    AccountRules,
    AccountState,
    AccountThreshold,
    EventKind,
    LeadSignal,
    apply_lead_signal,
)
from tests.unit.core.builders import BASE_RULES, DAY, T0, ev, rules_with, run


def signal(
    lead: str,
    engagement: float,
    *,
    seq: int = 1,
    at: float = T0,
    role: str | None = None,
    company_fit: float = 0.0,
    engaged_at: float | None = T0,
    product: str | None = None,
) -> LeadSignal:
    vector = (engagement, 0.0, 0.0, 0.0)
    return LeadSignal(
        account_id="A1",
        lead_id=lead,
        seq=seq,
        at=at,
        event_id=f"{lead}-{seq}",
        ref=at,
        engagement=vector,
        fit=company_fit,
        company_fit=company_fit,
        role=role,
        last_engaged_at=engaged_at,
        stage="engaged",
        product=product,
        rules_version=BASE_RULES.version,
    )


def fold(signals: list[LeadSignal], rules=BASE_RULES):  # type: ignore[no-untyped-def]
    state: AccountState | None = None
    alerts = []
    for s in signals:
        update = apply_lead_signal(state, s, rules, s.at)
        state = update.state
        alerts.extend(update.alerts)
    assert state is not None
    return state, alerts


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [(AccountAggregate.SUM, 10 + 20 + 30 + 40), (AccountAggregate.TOP_N, 40 + 30)],
    ids=["sum", "top-2"],
)
def test_engagement_aggregate(aggregate: AccountAggregate, expected: float) -> None:
    rules = rules_with(account=AccountRules(aggregate=aggregate, top_n=2))
    state, _ = fold([signal(f"L{i}", pts) for i, pts in enumerate([10, 20, 30, 40])], rules)
    assert state.score_at(T0, rules).engagement == expected


def test_newer_signal_replaces_older_and_stale_is_ignored() -> None:
    state, _ = fold([signal("L1", 10, seq=1), signal("L1", 25, seq=2)])
    assert state.score_at(T0, BASE_RULES).engagement == 25
    update = apply_lead_signal(state, signal("L1", 99, seq=1), BASE_RULES, T0)
    assert not update.applied
    assert update.state is state


def test_engaged_contacts_need_points_and_recent_activity() -> None:
    state, _ = fold(
        [
            signal("L1", 10, engaged_at=T0),
            signal("L2", 4, engaged_at=T0),  # below engaged_min_points (5)
            signal("L3", 10, engaged_at=T0 - 15 * DAY),  # outside the 14-day window
        ]
    )
    assert state.score_at(T0, BASE_RULES).engaged_contacts == ("L1",)


def test_account_fit_is_the_best_company_fit() -> None:
    state, _ = fold([signal("L1", 0, company_fit=10), signal("L2", 0, company_fit=20)])
    assert state.score_at(T0, BASE_RULES).fit == 20


def test_mqa_needs_score_contacts_and_roles_and_lists_contacts() -> None:
    """mqa: value 60, re-arm below 40, >= 3 engaged contacts, >= 2 roles, 5 pts per role."""
    signals = [
        signal("L1", 20, role="decision_maker"),
        signal("L2", 20, role="technical"),
        signal("L3", 9),  # total 49 + 10 role points = 59: just below
    ]
    state, alerts = fold(signals)
    assert alerts == []
    assert state.score_at(T0, BASE_RULES).total == 59
    state, alerts = fold([*signals, signal("L3", 10, seq=2, product="product-a")])
    (mqa,) = alerts
    assert mqa.alert_id == "account:A1:mqa:1"
    assert mqa.subject == "account"
    assert mqa.score == 60
    assert mqa.contacts == ("L1", "L2", "L3")
    assert mqa.engaged_contacts == 3
    assert mqa.roles == ("decision_maker", "technical")
    assert sum(r.points for r in mqa.reasons) == pytest.approx(mqa.score)
    assert mqa.to_record()["contacts"] == ["L1", "L2", "L3"]
    assert state.stage == "mqa"


def test_mqa_not_without_role_coverage() -> None:
    state, alerts = fold([signal(f"L{i}", 30) for i in range(3)])
    assert state.score_at(T0, BASE_RULES).total == 90
    assert alerts == []


def test_mqa_hysteresis() -> None:
    rules = rules_with(account=AccountRules(thresholds=(AccountThreshold("mqa", 60, 40),)))
    sequence = [
        signal("L1", 60, seq=1),  # fire
        signal("L1", 45, seq=2),  # inside the band
        signal("L1", 70, seq=3),  # no re-fire
        signal("L1", 39, seq=4),  # re-armed
        signal("L1", 61, seq=5),  # fire again
    ]
    _, alerts = fold(sequence, rules)
    assert [a.alert_id for a in alerts] == ["account:A1:mqa:1", "account:A1:mqa:2"]


def test_account_engagement_decays_like_its_leads() -> None:
    state, _ = fold([signal("L1", 40)])
    assert state.score_at(T0 + 14 * DAY, BASE_RULES).engagement == pytest.approx(20)


def test_leads_feed_the_account_end_to_end() -> None:
    events = [
        ev("p1", EventKind.PROFILE_UPDATED, T0, lead="L1", account="A1", title="部長"),
        ev("p2", EventKind.PROFILE_UPDATED, T0, lead="L2", account="A1", title="Engineer"),
        ev(
            "d1",
            EventKind.CONTENT_DOWNLOAD,
            T0 + 1,
            lead="L1",
            account="A1",
            asset_type="case_study",
        ),
        ev(
            "d2",
            EventKind.CONTENT_DOWNLOAD,
            T0 + 2,
            lead="L2",
            account="A1",
            asset_type="case_study",
        ),
    ]
    account: AccountState | None = None
    states = {}
    for e in events:
        _, (update,) = run([e], state=states.get(e.lead_id))
        states[e.lead_id] = update.state
        assert update.account_signal is not None
        account = apply_lead_signal(account, update.account_signal, BASE_RULES, e.occurred_at).state
    assert account is not None
    score = account.score_at(T0 + 2, BASE_RULES)
    assert score.engaged_contacts == ("L2", "L1")
    assert score.roles == ("decision_maker", "technical")
    total_leads = sum(s.score_at(T0 + 2, BASE_RULES).engagement for s in states.values())
    assert score.engagement == pytest.approx(total_leads)


def test_an_erased_lead_leaves_its_account_which_equals_the_fold_without_it() -> None:
    from scorer.core.account import remove_lead

    with_erased, _ = fold([signal("L1", 30.0), signal("L2", 20.0, role="it"), signal("L3", 5.0)])
    without, _ = fold([signal("L1", 30.0), signal("L3", 5.0)])
    update = remove_lead(with_erased, "L2", BASE_RULES)
    assert update.applied
    assert update.alerts == ()
    assert [m.lead_id for m in update.state.members] == ["L1", "L3"]
    at = with_erased.watermark or T0
    assert update.state.score_at(at, BASE_RULES).total == without.score_at(at, BASE_RULES).total
    assert update.state.last_score == pytest.approx(without.last_score)


@pytest.mark.parametrize("lead", ["L9", "L1"])
def test_removing_a_lead_the_account_does_not_hold_changes_nothing(lead: str) -> None:
    from scorer.core.account import remove_lead

    state, _ = fold([signal("L2", 10.0)])
    assert not remove_lead(state, lead, BASE_RULES).applied
    assert not remove_lead(None, lead, BASE_RULES).applied
