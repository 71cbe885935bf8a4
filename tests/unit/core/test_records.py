"""State records: JSON-ready, versioned, exact round-trip, future versions refused."""

from __future__ import annotations

import json

import pytest

from scorer.core import (
    AccountState,
    EventKind,
    LeadState,
    RecordVersionError,
    Timing,
    apply_lead_signal,
)
from tests.unit.core.builders import HOUR, T0, ev, rules_with, run

# A tiny open window so that the state has both settled history and open points.
RULES = rules_with(timing=Timing(allowed_lateness=HOUR, max_open_events=2))


def _busy_lead() -> LeadState:
    state, _ = run(
        [
            ev(
                "p",
                EventKind.PROFILE_UPDATED,
                T0,
                account="A1",
                title="部長",
                employee_count=300,
                budget=True,
            ),
            ev(
                "v1", EventKind.PAGE_VIEW, T0 + 1, account="A1", url="/pricing", product="product-a"
            ),
            ev("v0", EventKind.PAGE_VIEW, T0 - 10, account="A1", url="/x"),
            ev("d", EventKind.FORM_SUBMIT, T0 + 2, form_id="demo-request"),
            ev("s", EventKind.SEMINAR_ATTENDED, T0 + 3 * HOUR, webinar_id="w"),
            ev("u", EventKind.EMAIL_UNSUBSCRIBE, T0 + 3 * HOUR + 1, campaign_id="c"),
        ],
        RULES,
    )
    assert state is not None
    assert state.settled.t is not None
    assert state.open
    return state


def test_lead_record_round_trips_exactly_through_json() -> None:
    state = _busy_lead()
    record = state.to_record()
    assert record["v"] == 1
    assert record["type"] == "lead_state"
    again = LeadState.from_record(json.loads(json.dumps(record, ensure_ascii=False)))
    assert again == state
    assert again.to_record() == record


def test_account_record_round_trips() -> None:
    state = _busy_lead()
    _, updates = run(
        [ev("v9", EventKind.PAGE_VIEW, T0 + 4 * HOUR, account="A1", url="/")], RULES, state
    )
    signal = updates[0].account_signal
    assert signal is not None
    account = apply_lead_signal(None, signal, RULES, T0).state
    record = account.to_record()
    assert record["v"] == 1
    assert AccountState.from_record(json.loads(json.dumps(record))) == account


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        ({"v": 2}, "schema version 2"),
        ({"v": None}, "no integer schema version"),
        ({"type": "account_state"}, "expected a lead_state"),
    ],
    ids=["future-version", "missing-version", "wrong-type"],
)
def test_bad_lead_records_are_refused(mutate: dict[str, object], error: str) -> None:
    record = {**_busy_lead().to_record(), **mutate}
    with pytest.raises(ValueError, match=error):
        LeadState.from_record(record)


def test_future_version_error_type() -> None:
    with pytest.raises(RecordVersionError):
        AccountState.from_record({"v": 99, "type": "account_state"})
