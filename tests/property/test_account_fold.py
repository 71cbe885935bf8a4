"""The account fold (`apply_lead_signal`) reads only the total and counts it needs; it must
agree exactly with folding the account from scratch (`account_score` on all members)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import (
    AccountAggregate,
    AccountState,
    AccountThreshold,
    LeadSignal,
    Rules,
    apply_lead_signal,
)
from scorer.core.account import account_score
from scorer.core.thresholds import Gate
from tests.unit.core.builders import BASE_RULES, DAY, HOUR, T0

LEADS = ("L1", "L2", "L3", "L4", "L5", "L6", "L7")
ROLES = (None, "decision_maker", "technical", "finance")
points = st.one_of(st.just(0.0), st.floats(-20, 60, allow_nan=False), st.integers(0, 40).map(float))


@st.composite
def signals(draw: st.DrawFn) -> list[LeadSignal]:
    out: list[LeadSignal] = []
    seq = {lead: 0 for lead in LEADS}
    for _ in range(draw(st.integers(1, 30))):
        lead = draw(st.sampled_from(LEADS))
        # Mostly newer signals; sometimes one already folded in (the same or an older seq).
        seq[lead] += draw(st.sampled_from((1, 1, 1, 0, -1)))
        at = T0 + draw(st.floats(0, 40 * DAY, allow_nan=False))
        ref = draw(st.one_of(st.none(), st.just(at), st.floats(T0 - DAY, at, allow_nan=False)))
        engaged = draw(st.one_of(st.none(), st.floats(at - 20 * DAY, at, allow_nan=False)))
        fit = draw(st.sampled_from((0.0, 5.0, 10.0, 12.5)))
        out.append(
            LeadSignal(
                account_id="A1",
                lead_id=lead,
                seq=seq[lead],
                at=at,
                event_id=f"{lead}-{seq[lead]}",
                ref=ref,
                engagement=tuple(draw(st.lists(points, min_size=4, max_size=4))),
                fit=fit,
                company_fit=fit,
                role=draw(st.sampled_from(ROLES)),
                last_engaged_at=engaged,
                stage="engaged",
                product=draw(st.sampled_from((None, "product-a"))),
                rules_version=BASE_RULES.version,
            )
        )
    return out


def _reference(state: AccountState | None, signal: LeadSignal, rules: Rules) -> AccountState:
    """The fold from scratch: every member's newest signal, the full score, the gates."""
    state = state or AccountState.new(signal.account_id, rules)
    old = {m.lead_id: m for m in state.members}
    if signal.lead_id in old and old[signal.lead_id].seq >= signal.seq:
        return state
    members = tuple(sorted({**old, signal.lead_id: signal}.values(), key=lambda m: m.lead_id))
    watermark = signal.at if state.watermark is None else max(state.watermark, signal.at)
    score = account_score(state._replace(members=members), watermark, rules)
    stage = "engaged" if state.stage == "new" and score.engaged_contacts else state.stage
    gates = []
    for gate, threshold in zip(state.gates, rules.account.thresholds, strict=True):
        armed = gate.armed or score.total < threshold.rearm_below
        qualifies = (
            score.total >= threshold.value
            and len(score.engaged_contacts) >= threshold.min_engaged_contacts
            and len(score.roles) >= threshold.min_roles
        )
        last = gate.last_fired_at
        if armed and qualifies and (last is None or watermark - last >= threshold.cooldown_s):
            gates.append(Gate(False, gate.epoch + 1, watermark))
            stage = threshold.name
        else:
            gates.append(Gate(armed, gate.epoch, last))
    return AccountState(
        account_id=state.account_id,
        rules_version=rules.version,
        members=members,
        gates=tuple(gates),
        watermark=watermark,
        stage=stage,
        last_score=score.total,
    )


@settings(max_examples=300, deadline=None)
@given(
    signals(),
    st.sampled_from([AccountAggregate.SUM, AccountAggregate.TOP_N]),
    st.integers(1, 4),
    st.sampled_from([0.0, 30.0, 60.0]),
)
def test_the_fold_equals_the_fold_from_scratch(
    sequence: list[LeadSignal], aggregate: AccountAggregate, top_n: int, value: float
) -> None:
    thresholds = (
        AccountThreshold("mqa", value, value - 20, min_engaged_contacts=2, min_roles=1),
        AccountThreshold("hot", value + 40, value, cooldown_s=2 * HOUR),
    )
    account = replace(BASE_RULES.account, aggregate=aggregate, top_n=top_n, thresholds=thresholds)
    rules = replace(BASE_RULES, account=account)
    state: AccountState | None = None
    expected: AccountState | None = None
    for signal in sequence:
        update = apply_lead_signal(state, signal, rules, signal.at)
        expected = _reference(expected, signal, rules)
        assert update.state == expected
        # Exactly equal, not approximately: the published score is byte-identical.
        assert repr(update.state.last_score) == repr(expected.last_score)
        assert update.applied == (state is None or update.state != state)
        before = (state or AccountState.new("A1", rules)).gates
        raised = [
            t.name
            for t, g, b in zip(thresholds, expected.gates, before, strict=True)
            if g.epoch > b.epoch
        ]
        assert [a.threshold for a in update.alerts] == raised
        state = update.state
