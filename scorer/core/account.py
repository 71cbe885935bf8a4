"""Account (ABM) scores, folded from the latest signal of each member lead.

The account keeps, per member lead, the lead's latest signal (engagement vector and its
reference time, fit, buying-group role, last engagement time). Everything else is derived
at the account's watermark t (the latest lead event time it has seen):

* engagement = sum (or the sum of the top N) of the members' engagement decayed to t;
* engaged contacts = members with engagement >= `engaged_min_points` whose last positive
  engagement is within `engaged_window` of t;
* roles = buying-group roles covered by engaged contacts (from their titles);
* fit = the best company-level fit among members;
* score = fit + engagement + role_points * len(roles).

Because the score is recomputed from the members, it always adds up to its members and
replaying a lead's signals in any order ends in the same account state (the newest signal
per lead, by lead sequence number, wins).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.alerts import Alert, account_alert_id
from scorer.core.events import FieldValue
from scorer.core.lead_signal import RECORD_VERSION, LeadSignal
from scorer.core.routing import route
from scorer.core.rules import AccountAggregate, AccountThreshold, Rules
from scorer.core.thresholds import Gate

_NO_ATTRIBUTES: Mapping[str, FieldValue] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AccountScore:
    account_id: str
    at: float
    fit: float
    engagement: float
    role_points: float
    total: float
    engaged_contacts: tuple[str, ...]
    roles: tuple[str, ...]
    by_lead: tuple[tuple[str, float], ...]


class AccountState(NamedTuple):
    # A NamedTuple, like the lead's records: one is built per lead signal, and a frozen
    # dataclass costs about 1 µs more to build (half the fold of a small account's gates).
    account_id: str
    rules_version: str
    members: tuple[LeadSignal, ...] = ()
    gates: tuple[Gate, ...] = ()
    watermark: float | None = None
    stage: str = "new"
    last_score: float = 0.0

    @classmethod
    def new(cls, account_id: str, rules: Rules) -> AccountState:
        return cls(
            account_id=account_id,
            rules_version=rules.version,
            gates=(Gate(),) * len(rules.account.thresholds),
        )

    def score_at(self, t: float, rules: Rules) -> AccountScore:
        return account_score(self, t, rules)

    def to_record(self) -> dict[str, object]:
        return {
            "v": RECORD_VERSION,
            "type": "account_state",
            "account_id": self.account_id,
            "rules_version": self.rules_version,
            "members": [m.to_record() for m in self.members],
            "gates": [g.to_list() for g in self.gates],
            "watermark": self.watermark,
            "stage": self.stage,
            "last_score": self.last_score,
        }

    @classmethod
    def from_record(cls, raw: dict[str, object]) -> AccountState:
        from scorer.core.records import check_version, opt_float, req_float, req_list

        check_version(raw, "account_state")
        members = tuple(LeadSignal.from_record(m) for m in req_list(raw, "members"))
        gates = tuple(Gate.from_list(g) for g in req_list(raw, "gates"))
        return cls(
            account_id=str(raw["account_id"]),
            rules_version=str(raw["rules_version"]),
            members=members,
            gates=gates,
            watermark=opt_float(raw, "watermark"),
            stage=str(raw["stage"]),
            last_score=req_float(raw, "last_score"),
        )


class AccountUpdate(NamedTuple):
    state: AccountState
    alerts: tuple[Alert, ...] = ()
    applied: bool = True


def account_score(state: AccountState, t: float, rules: Rules) -> AccountScore:
    spec = rules.account
    per_lead = [(m.lead_id, m.engagement_at(t, rules)) for m in state.members]
    if spec.aggregate is AccountAggregate.TOP_N:
        counted = sorted(per_lead, key=lambda item: (-item[1], item[0]))[: spec.top_n]
    else:
        counted = sorted(per_lead, key=lambda item: (-item[1], item[0]))
    engagement = sum(points for _, points in counted)
    engaged: list[str] = []
    roles: set[str] = set()
    current = dict(per_lead)
    for member in state.members:
        if member.last_engaged_at is None or t - member.last_engaged_at > spec.engaged_window_s:
            continue
        if current[member.lead_id] < spec.engaged_min_points:
            continue
        engaged.append(member.lead_id)
        if member.role is not None:
            roles.add(member.role)
    fit = max((m.company_fit for m in state.members), default=0.0)
    role_points = spec.role_points * len(roles)
    return AccountScore(
        account_id=state.account_id,
        at=t,
        fit=fit,
        engagement=engagement,
        role_points=role_points,
        total=fit + engagement + role_points,
        engaged_contacts=tuple(sorted(engaged, key=lambda lead: (-current[lead], lead))),
        roles=tuple(sorted(roles)),
        by_lead=tuple(counted),
    )


class _Fold(NamedTuple):
    """What the gates of an account read from its score at its watermark: the total and
    the counts `AccountThreshold` requires (the full `AccountScore` is built only for an
    alert, or when asked for)."""

    total: float
    engaged_contacts: int
    roles: int


def _fold(members: tuple[LeadSignal, ...], t: float, rules: Rules) -> _Fold:
    """`account_score(...).total` and its counts, with the same arithmetic: the counted
    engagement is added up biggest first (equal values add up the same whichever lead
    they come from, so the lead-id tie-break `account_score` sorts by is not needed)."""
    spec = rules.account
    window, min_points = spec.engaged_window_s, spec.engaged_min_points
    points: list[float] = []
    engaged = 0
    roles: set[str] = set()
    fit = 0.0
    first = True
    for member in members:
        value = member.engagement_at(t, rules)
        points.append(value)
        last_engaged_at = member.last_engaged_at
        if last_engaged_at is not None and t - last_engaged_at <= window and value >= min_points:
            engaged += 1
            if member.role is not None:
                roles.add(member.role)
        # max(company_fit), keeping the first of equal values as `max` does.
        if first or member.company_fit > fit:
            fit, first = member.company_fit, False
    points.sort(reverse=True)
    if spec.aggregate is AccountAggregate.TOP_N:
        engagement = sum(points[: spec.top_n])
    else:
        engagement = sum(points)
    total = fit + engagement + spec.role_points * len(roles)
    return _Fold(total, engaged, len(roles))


def apply_lead_signal(
    state: AccountState | None, signal: LeadSignal, rules: Rules, now: float
) -> AccountUpdate:
    """Fold one lead signal into its account. `now` is accepted for symmetry with
    `apply_event`; the account is judged in event time (its watermark) only."""
    del now
    if state is None:
        state = AccountState.new(signal.account_id, rules)
    elif len(state.gates) != len(rules.account.thresholds):
        state = _migrate(state, rules)
    members = state.members
    lead_id = signal.lead_id
    for i, member in enumerate(members):
        if member.lead_id == lead_id:
            if member.seq >= signal.seq:
                return AccountUpdate(state=state, applied=False)
            members = (*members[:i], signal, *members[i + 1 :])
            break
    else:
        members = _with_member(members, signal)
    watermark = signal.at if state.watermark is None else max(state.watermark, signal.at)
    fold = _fold(members, watermark, rules)
    stage = state.stage
    if stage == "new" and fold.engaged_contacts:
        stage = "engaged"
    gates = state.gates
    fired: list[tuple[AccountThreshold, int]] = []
    for i, threshold in enumerate(rules.account.thresholds):
        gate = gates[i]
        armed = gate.armed or fold.total < threshold.rearm_below
        if armed and _qualifies(fold, threshold):
            cooled = (
                gate.last_fired_at is None or watermark - gate.last_fired_at >= threshold.cooldown_s
            )
            if cooled:
                gate = Gate(False, gate.epoch + 1, watermark)
                stage = threshold.name
                fired.append((threshold, gate.epoch))
                gates = (*gates[:i], gate, *gates[i + 1 :])
                continue
        if armed != gate.armed:
            gates = (*gates[:i], Gate(armed, gate.epoch, gate.last_fired_at), *gates[i + 1 :])
    # positional, in field order (keywords cost more, once per lead signal)
    final = AccountState(
        state.account_id, rules.version, members, gates, watermark, stage, fold.total
    )
    if not fired:
        return AccountUpdate(final)
    score = account_score(final, watermark, rules)
    alerts = tuple(
        _with_stage(_account_alert(final, score, threshold, epoch, signal, rules), stage)
        for threshold, epoch in fired
    )
    return AccountUpdate(state=final, alerts=alerts)


def _with_member(members: tuple[LeadSignal, ...], signal: LeadSignal) -> tuple[LeadSignal, ...]:
    """`members` (in lead-id order) with a new member's signal in its place."""
    at = bisect_left([m.lead_id for m in members], signal.lead_id)
    return (*members[:at], signal, *members[at:])


def remove_lead(state: AccountState | None, lead_id: str, rules: Rules) -> AccountUpdate:
    """Drop an erased lead from its account; the score is recomputed from the others.

    No alert comes of it (a score only falls); gates re-arm as they would at the next
    signal, and the watermark stays (it is the account's own clock).
    """
    if state is None or all(m.lead_id != lead_id for m in state.members):
        return AccountUpdate(state=state or AccountState.new("", rules), applied=False)
    if len(state.gates) != len(rules.account.thresholds):
        state = _migrate(state, rules)
    members = tuple(m for m in state.members if m.lead_id != lead_id)
    folded = state._replace(members=members, rules_version=rules.version)
    at = state.watermark if state.watermark is not None else 0.0
    score = account_score(folded, at, rules)
    gates = tuple(
        Gate(gate.armed or score.total < threshold.rearm_below, gate.epoch, gate.last_fired_at)
        for gate, threshold in zip(state.gates, rules.account.thresholds, strict=True)
    )
    final = folded._replace(gates=gates, last_score=score.total)
    return AccountUpdate(state=final)


def _qualifies(fold: _Fold, threshold: AccountThreshold) -> bool:
    return (
        fold.total >= threshold.value
        and fold.engaged_contacts >= threshold.min_engaged_contacts
        and fold.roles >= threshold.min_roles
    )


def _account_alert(
    state: AccountState,
    score: AccountScore,
    threshold: AccountThreshold,
    epoch: int,
    signal: LeadSignal,
    rules: Rules,
) -> Alert:
    from scorer.core.account_view import account_reasons

    contacts = score.engaged_contacts[: rules.account.last_alert_contacts]
    reasons, negatives = account_reasons(
        state, score, max(rules.explain.top_reasons, len(contacts))
    )
    top_member = max(
        state.members,
        key=lambda m: (m.engagement_at(score.at, rules), m.lead_id),
        default=None,
    )
    product = top_member.product if top_member is not None else None
    # An account has no lead attributes of its own: rules on product interest apply.
    team = route(rules.routing, product, _NO_ATTRIBUTES)
    return Alert(
        alert_id=account_alert_id(state.account_id, threshold.name, epoch),
        kind=threshold.name,
        subject="account",
        lead_id=None,
        account_id=state.account_id,
        score=score.total,
        fit=score.fit,
        engagement=score.engagement,
        grade="",
        stage=threshold.name,
        threshold=threshold.name,
        threshold_value=threshold.value,
        epoch=epoch,
        reasons=reasons,
        rules_version=rules.version,
        occurred_at=score.at,
        event_id=signal.event_id,
        team=team,
        product=product,
        contacts=contacts,
        engaged_contacts=len(score.engaged_contacts),
        roles=score.roles,
        negative_reasons=negatives,
    )


def _with_stage(alert: Alert, stage: str) -> Alert:
    if alert.stage == stage:
        return alert
    return alert._replace(stage=stage)


def _migrate(state: AccountState, rules: Rules) -> AccountState:
    gates = list(state.gates[: len(rules.account.thresholds)])
    gates += [Gate()] * (len(rules.account.thresholds) - len(gates))
    return AccountState(
        account_id=state.account_id,
        rules_version=rules.version,
        members=state.members,
        gates=tuple(gates),
        watermark=state.watermark,
        stage=state.stage,
        last_score=state.last_score,
    )
