"""The account score is the fold of its leads' scores, whatever the interleaving."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import AccountAggregate, AccountState, Event, replay
from tests.property.strategies import arrival_orders, histories
from tests.unit.core.builders import BASE_RULES, DAY, HOUR

LEADS = ("L1", "L2", "L3", "L4")


@st.composite
def account_histories(draw: st.DrawFn) -> list[Event]:
    events = draw(histories(leads=LEADS, account="A1", max_size=40))
    return draw(arrival_orders(events, HOUR))


@settings(max_examples=120, deadline=None)
@given(
    account_histories(),
    st.sampled_from([AccountAggregate.SUM, AccountAggregate.TOP_N]),
    st.floats(0, 30 * DAY),
)
def test_account_engagement_equals_the_fold_of_its_leads(
    events: list[Event], aggregate: AccountAggregate, after: float
) -> None:
    rules = replace(BASE_RULES, account=replace(BASE_RULES.account, aggregate=aggregate, top_n=2))
    result = replay(events, rules)
    account = result.accounts["A1"]
    at = max(e.occurred_at for e in events) + after
    per_lead = sorted(
        (s.score_at(at, rules).engagement for s in result.leads.values()), reverse=True
    )
    counted = per_lead[:2] if aggregate is AccountAggregate.TOP_N else per_lead
    score = account.score_at(at, rules)
    assert abs(score.engagement - sum(counted)) <= 1e-9 * max(1.0, abs(score.engagement))
    assert score.fit == max(s.company_fit for s in result.leads.values())
    reasons_total = sum(points for _, points in score.by_lead) + score.fit + score.role_points
    assert abs(reasons_total - score.total) <= 1e-9 * max(1.0, abs(score.total))


@settings(max_examples=60, deadline=None)
@given(account_histories())
def test_account_records_round_trip(events: list[Event]) -> None:
    account = replay(events, BASE_RULES).accounts["A1"]
    assert AccountState.from_record(json.loads(json.dumps(account.to_record()))) == account
