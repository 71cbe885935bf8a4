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
    apply_event,
    apply_lead_signal,
)
from tests.unit.core.builders import HOUR, T0, ev, rules_with, run

# A tiny open window so that the state has both settled history and open points.
RULES = rules_with(timing=Timing(allowed_lateness_s=HOUR, max_open_events=2))


BUSY_IDS = ("p", "v1", "v0", "d", "s", "u")


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
    assert record["v"] == 3
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
        ({"v": 4}, "schema version 4"),
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


def _to_mql_events() -> list[object]:
    from tests.unit.core.loop_builders import to_mql

    return list(to_mql(product="product-a"))


_TO_MQL: list = _to_mql_events()  # type: ignore[type-arg]

# Keys the hand-off loop added to the lead record; changelogs written before carry none.
LOOP_KEYS = ("timers", "scenarios", "cycle", "last_active_at", "cold_since", "team", "handoff")


def _lead_with_a_loop() -> LeadState:
    from tests.unit.core.loop_builders import LOOP_RULES, Fire, play

    played = play(
        [
            *_TO_MQL,
            ev("v", EventKind.PAGE_VIEW, T0 + 10, url="/pricing"),
            ev("a", EventKind.FEEDBACK_ACCEPTED, T0 + HOUR),
            Fire(T0 + 3 * HOUR),
        ],
        LOOP_RULES,
    )
    assert played.state is not None
    return played.state


def test_a_lead_with_timers_marks_and_a_handoff_round_trips() -> None:
    state = _lead_with_a_loop()
    assert state.timers
    assert state.scenarios
    assert state.handoff is not None
    record = state.to_record()
    # (v2 leaves out keys whose value is null: cold_since, here)
    assert set(LOOP_KEYS) - {"cold_since"} <= set(record)
    again = LeadState.from_record(json.loads(json.dumps(record, ensure_ascii=False)))
    assert again == state
    assert again.to_record() == record


def test_an_old_record_without_the_loop_fields_still_loads() -> None:
    """Recovery must not brick on changelogs written before the hand-off loop existed."""
    old = {k: v for k, v in _busy_lead().to_record().items() if k not in LOOP_KEYS}
    state = LeadState.from_record(json.loads(json.dumps(old)))
    assert state.timers == ()
    assert dict(state.scenarios) == {}
    assert (state.cycle, state.last_active_at, state.cold_since) == (0, None, None)
    assert (state.team, state.handoff) == (None, None)
    # ... and it goes on scoring; the inactivity clock starts at its next event.
    from tests.unit.core.loop_builders import LOOP_RULES

    update = apply_event(
        state._replace(rules_version=LOOP_RULES.version),
        ev("n", EventKind.PAGE_VIEW, T0 + 4 * HOUR, account="A1", url="/"),
        LOOP_RULES,
        T0 + 4 * HOUR,
    )
    assert update.state.last_active_at == T0 + 4 * HOUR
    assert [t.kind for t in update.state.timers] == ["inactivity"]


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("timers", [[1.0, "nap", "", 0, 1.0, "x"]], "bad timer record"),
        ("timers", [[1.0]], "a timer record is"),
        ("scenarios", {"s": [1]}, "a scenario mark is"),
    ],
    ids=["unknown-timer-kind", "short-timer", "short-mark"],
)
def test_bad_loop_records_are_refused(key: str, value: object, error: str) -> None:
    record = {**_lead_with_a_loop().to_record(), key: value}
    with pytest.raises(ValueError, match=error):
        LeadState.from_record(record)


def _all_kinds_of_lead() -> list[tuple[LeadState, tuple[str, ...]]]:
    """Leads, each with the ids of the events it applied."""
    loop_ids = (*(e.event_id for e in _TO_MQL), "v", "a")
    return [
        (_busy_lead(), BUSY_IDS),
        (_lead_with_a_loop(), loop_ids),
        (LeadState.new("L0", RULES), ()),
    ]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("which", [0, 1, 2], ids=["busy", "loop", "new"])
def test_an_older_record_restores_to_the_same_state(which: int, version: int) -> None:
    """Changelogs written before the compact record (v1) and before the id digests (v2)
    still recover, exactly."""
    from scorer.core.lead_records_old import lead_to_record_v1, lead_to_record_v2

    state, ids = _all_kinds_of_lead()[which]
    writer = lead_to_record_v1 if version == 1 else lead_to_record_v2
    old = json.loads(json.dumps(writer(state, ids), ensure_ascii=False))
    assert old["v"] == version
    again = LeadState.from_record(old)
    # Records before v3 hold no rate window: the next event opens a new one.
    assert again.rate is None
    state = state._replace(rate=None)
    assert again == state
    assert again.changes == state.changes
    assert all(i in again.recent_ids for i in ids)
    # ... and is written back in the newest form (smaller than v1; against v2 it depends
    # on the ids' length: a digest takes ~11 bytes, these ids 3 to 4).
    assert again.to_record() == state.to_record()
    if version == 1:
        assert len(json.dumps(state.to_record())) < len(json.dumps(old))


@pytest.mark.parametrize("length", [4, 36, 128])
def test_remembered_ids_cost_the_same_whatever_their_length(length: int) -> None:
    """v3 keeps 8-byte digests: ~11 bytes per remembered id, however long the ids."""
    events = [
        ev(f"{i:04d}".ljust(length, "x"), EventKind.PAGE_VIEW, T0 + i * 60, url="/")
        for i in range(200)
    ]
    state, _ = run(events, RULES)
    assert state is not None
    recent = json.dumps(state.to_record()["recent_ids"])
    assert 128 <= len(state.recent_ids) <= 128 + 15  # (the oldest block goes whole)
    assert len(recent) < len(state.recent_ids) * 11 + 64
    assert events[-1].event_id in state.recent_ids
    assert events[0].event_id not in state.recent_ids


def test_compact_changes_keep_values_the_state_does_not_determine() -> None:
    """A change whose lead id, rules version or points_now differ from what the compact
    record assumes (possible only in records from elsewhere) still round-trips."""
    from scorer.core import ScoreChange

    state = _busy_lead()
    odd = state.changes[-1]._replace(
        lead_id="other",
        rules_version="old-rules",
        points_now=state.changes[-1].points_now + 0.5,
        as_of=state.changes[-1].occurred_at + 7,
    )
    zeros = state.changes[-1]._replace(points_awarded=0.0, decay_factor=0.5, points_now=-0.0)
    state = state._replace(changes=(*state.changes, odd, zeros))
    record = json.loads(json.dumps(state.to_record()))
    again = LeadState.from_record(record)
    assert again == state
    assert isinstance(again.changes[-1], ScoreChange)
    assert str(again.changes[-1].points_now) == "-0.0"
    assert record["changes"][-2][-1] == {
        "lead_id": "other",
        "rules_version": "old-rules",
        "points_now": odd.points_now,
    }


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("changes", [["e", "r"]], "11 or 12 items"),
        ("open", [[1.0]], "open point is a list of 9"),
        ("settled", {"t": None}, "settled summary is a list of 7"),
        ("recent_ids", {"blocks": [], "current": []}, r"\[blocks, current\]"),
        ("recent_ids", [[], ["e1"]], "base64 string"),
        ("recent_ids", [["AAAA"], ""], "8-byte digests"),
        ("recent_ids", [[], "not base64!"], "not base64"),
    ],
    ids=[
        "short-change",
        "short-point",
        "keyed-settled",
        "keyed-recent-ids",
        "ids-not-digests",
        "short-digest",
        "not-base64",
    ],
)
def test_bad_compact_records_are_refused(key: str, value: object, error: str) -> None:
    record = {**_busy_lead().to_record(), key: value}
    with pytest.raises(ValueError, match=error):
        LeadState.from_record(record)
