"""What an account's score is made of, per contact: the contributions that sum to its
score, its reasons (each naming the contact it came from) and the one record that both
`scorer score-file` (`account_score` lines) and `GET /accounts/{id}` answer with.

Contributions: `lead:<id>` = a counted contact's engagement (all of them with
`aggregate: sum`, the top N with `top_n`); `account.fit` = the best company-level fit
among the contacts (from the first contact, by lead id, that has it);
`account.role:<role>` = `role_points` for each buying-group role an engaged contact
covers (from the most engaged contact with that role, ties by lead id).
"""

from __future__ import annotations

from scorer.core.account import AccountScore, AccountState
from scorer.core.explain import Reason
from scorer.core.grade import grade
from scorer.core.rules import Rules

FIT = "account.fit"
ROLE = "account.role:"


def account_contributions(
    state: AccountState, score: AccountScore
) -> tuple[dict[str, float], dict[str, str]]:
    """Points per contribution id (they sum to `score.total`) and the contact of each."""
    points: dict[str, float] = {}
    contacts: dict[str, str] = {}
    for lead_id, engagement in score.by_lead:
        points[f"lead:{lead_id}"] = engagement
        contacts[f"lead:{lead_id}"] = lead_id
    if score.fit:
        points[FIT] = score.fit
        best = next((m for m in state.members if m.company_fit == score.fit), None)
        if best is not None:
            contacts[FIT] = best.lead_id
    if score.roles:
        per_role = score.role_points / len(score.roles)
        role_of = {m.lead_id: m.role for m in state.members}
        for role in score.roles:
            points[ROLE + role] = per_role
            # engaged_contacts is most engaged first: the first with the role covers it.
            holder = next((c for c in score.engaged_contacts if role_of.get(c) == role), None)
            if holder is not None:
                contacts[ROLE + role] = holder
    return points, contacts


def _label(contribution: str) -> str:
    if contribution == FIT:
        return "best company fit among contacts"
    if contribution.startswith(ROLE):
        return f"buying-group role: {contribution.removeprefix(ROLE)}"
    return "contact engagement"


def account_reasons(
    state: AccountState, score: AccountScore, n: int
) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
    """The `n` biggest positive contributions (biggest first) and the `n` most negative
    (most negative first), each with the contact it came from."""
    points, contacts = account_contributions(state, score)
    positive = sorted(
        (item for item in points.items() if item[1] > 0.0), key=lambda i: (-i[1], i[0])
    )
    negative = sorted(
        (item for item in points.items() if item[1] < 0.0), key=lambda i: (i[1], i[0])
    )
    return (
        tuple(Reason(k, _label(k), v, contacts.get(k)) for k, v in positive[:n]),
        tuple(Reason(k, _label(k), v, contacts.get(k)) for k, v in negative[:n]),
    )


def account_record(state: AccountState, at: float, rules: Rules) -> dict[str, object]:
    """The account's score at `at` and why (see the module doc)."""
    score = state.score_at(at, rules)
    points, _ = account_contributions(state, score)
    reasons, negatives = account_reasons(state, score, rules.explain.top_reasons)
    return {
        "type": "account_score",
        "account_id": state.account_id,
        "at": at,
        "fit": score.fit,
        "engagement": score.engagement,
        "role_points": score.role_points,
        "total": score.total,
        "grade": grade(score.fit, score.engagement, rules.grades),
        "stage": state.stage,
        "engaged_contacts": list(score.engaged_contacts),
        "roles": list(score.roles),
        "reasons": [r.to_record() for r in reasons],
        "negative_reasons": [r.to_record() for r in negatives],
        "contributions": points,
        "contacts": [{"lead_id": lead, "engagement": pts} for lead, pts in score.by_lead],
        "rules_version": state.rules_version,
    }
