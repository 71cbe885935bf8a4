"""`LeadState` to and from a JSON-ready record (`"v": 3`, `"type": "lead_state"`).

Version 2 is version 1 made compact, version 3 is version 2 with the remembered event ids
as digests (see `LEAD_RECORD_VERSION`); all three are read, into the same state. The
record is written once per scored event (the changelog), so its size is
most of the bytes a worker writes.

Fields added after the first release (the hand-off loop: `timers`, `scenarios`, `cycle`,
`last_active_at`, `cold_since`, `team`, `handoff`) are optional when reading, with the
defaults of `LeadState`, so changelogs written before them still recover.

The encoding of the record's parts (score changes, points, recent ids, held feedback) is
`lead_record_parts.py`; the writers of versions 1 and 2, kept for tests, `lead_records_old.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from scorer.core.dedup import RecentIds
from scorer.core.engagement import CapEntry
from scorer.core.explain import ScoreChange
from scorer.core.lead_record_parts import (
    POINT_KEYS,
    SETTLED_KEYS,
    change_from,
    change_list,
    digests_text,
    float_tuple,
    from_digests,
    held_from_record,
    held_to_record,
    ids_v1,
    named_items,
    opt_list,
    point_from,
    point_list,
)
from scorer.core.lead_state import LeadState
from scorer.core.records import (
    check_version,
    field_map,
    opt_float,
    opt_str,
    req_float,
    req_int,
    req_list,
)
from scorer.core.thresholds import Gate
from scorer.core.timeline import Accumulator, Settled, interned_fields
from scorer.core.timers import Handoff, HandoffLoop, ScenarioMark, Timer

# The lead record's schema version. 1: every structure as a keyed object. 2 (compact):
# score changes, open points, the settled summary and the recent ids positional, the
# changes without what the state or their other values determine, null keys left out.
# 3: the recent event ids as 8-byte digests (`dedup.event_digest`), each block and the
# block being filled as one base64 string of its digests (sorted within a full block):
# at most ~11 bytes per remembered id, whatever the ids' length (up to 128 characters).
LEAD_RECORD_VERSION = 3


def lead_to_record(state: LeadState) -> dict[str, object]:
    """The version-3 record: the version-1 keys, with the bulky repeated structures
    positional (score changes, open points, settled summary, recent ids), the keys
    whose value is the reader's default left out, and the recent ids as digests."""
    settled = state.settled
    record: dict[str, object] = {
        "v": LEAD_RECORD_VERSION,
        "type": "lead_state",
        "lead_id": state.lead_id,
        "rules_version": state.rules_version,
        "stage": state.stage,
        "fit": state.fit,
        "grade": state.grade,
        "seq": state.seq,
        "company_fit": state.company_fit,
        "fit_rules": list(state.fit_rules),
        "threshold_names": list(state.threshold_names),
        "category_names": list(state.category_names),
        "emitted": list(state.emitted),
        "recent_ids": [
            [digests_text(sorted(b)) for b in state.recent_ids.blocks],
            digests_text(state.recent_ids.current),
        ],
        "settled": [
            settled.t,
            settled.event_id,
            list(settled.engagement),
            settled.fit,
            dict(settled.attributes),
            [g.to_list() for g in settled.gates],
            [[a.kind, a.name, a.category, a.value, a.ref] for a in settled.ledger],
        ],
        "open": [point_list(p) for p in state.open],
        "caps": {rule: [e.to_list() for e in log] for rule, log in state.caps.items()},
        "once": {rule: [t, event_id] for rule, (t, event_id) in state.once.items()},
        "changes": [change_list(c, state) for c in state.changes],
        "timers": [t.to_list() for t in state.timers],
        "scenarios": {sid: mark.to_list() for sid, mark in state.scenarios.items()},
        "cycle": state.cycle,
        "handoff": None if state.handoff is None else state.handoff.to_record(),
    }
    _add_optional_keys(state, record)
    held_to_record(state, record)
    return record


def _add_optional_keys(state: LeadState, record: dict[str, object]) -> None:
    """The optional values, each only when it is not the reader's default."""
    # Optional values: absent reads as None (v1 wrote them as null).
    for key, value in (
        ("stage_reason", state.stage_reason),
        ("account_id", state.account_id),
        ("account_at", state.account_at),
        ("last_event_at", state.last_event_at),
        ("last_engaged_at", state.last_engaged_at),
        ("product", state.product),
        ("role", state.role),
        ("last_active_at", state.last_active_at),
        ("cold_since", state.cold_since),
        ("team", state.team),
    ):
        if value is not None:
            record[key] = value
    if record["handoff"] is None:
        del record["handoff"]
    if state.rate is not None:
        record["rate"] = list(state.rate)  # [window start, events counted in it]


def lead_from_record(raw: Mapping[str, object]) -> LeadState:
    """A lead state from its record, version 1, 2 or 3 (the same state either way)."""
    version = check_version(raw, "lead_state", LEAD_RECORD_VERSION)
    settled_raw = raw["settled"]
    lead_id, rules_version = str(raw["lead_id"]), str(raw["rules_version"])
    settled_raw, open_raw, recent, changes = _versioned_parts(
        raw, version, settled_raw, lead_id, rules_version
    )
    settled = _settled_from(settled_raw)
    caps, once = _caps_and_once(raw)
    marks_raw = raw.get("scenarios") or {}
    if not isinstance(marks_raw, dict):
        raise ValueError("lead_state.scenarios must be an object")
    rate_raw = raw.get("rate")  # (v3; before it, no rate window: the next event opens one)
    if rate_raw is not None and (not isinstance(rate_raw, list) or len(rate_raw) != 2):
        raise ValueError("lead_state.rate is [window start, count]")
    return LeadState(
        lead_id=lead_id,
        rules_version=rules_version,
        settled=settled,
        stage=str(raw["stage"]),
        stage_reason=opt_str(raw, "stage_reason"),
        account_id=opt_str(raw, "account_id"),
        account_at=opt_float(raw, "account_at"),
        last_event_at=opt_float(raw, "last_event_at"),
        fit=req_float(raw, "fit"),
        grade=str(raw["grade"]),
        open=tuple(point_from(p) for p in open_raw),
        caps=MappingProxyType(caps),
        once=MappingProxyType(once),
        emitted=tuple(int(e) for e in req_list(raw, "emitted")),
        threshold_names=tuple(str(n) for n in req_list(raw, "threshold_names")),
        category_names=tuple(str(n) for n in req_list(raw, "category_names")),
        recent_ids=recent,
        changes=changes,
        seq=req_int(raw, "seq"),
        last_engaged_at=opt_float(raw, "last_engaged_at"),
        product=opt_str(raw, "product"),
        role=opt_str(raw, "role"),
        company_fit=req_float(raw, "company_fit"),
        fit_rules=tuple(str(r) for r in req_list(raw, "fit_rules")),
        last_active_at=opt_float(raw, "last_active_at"),
        loop=_loop_from(raw, marks_raw),
        rate=None
        if rate_raw is None
        else (req_float({"rate": rate_raw[0]}, "rate"), req_int({"rate": rate_raw[1]}, "rate")),
    )


def _versioned_parts(
    raw: Mapping[str, object],
    version: int,
    settled_raw: object,
    lead_id: str,
    rules_version: str,
) -> tuple[object, list[Any], RecentIds, tuple[ScoreChange, ...]]:
    """(settled summary as an object, open points as objects, recent ids, score changes):
    the parts whose encoding differs between record versions."""
    if version >= 2:
        settled_raw = named_items(settled_raw, SETTLED_KEYS, "settled summary")
        open_raw = [named_items(p, POINT_KEYS, "open point") for p in req_list(raw, "open")]
        recent_raw = raw["recent_ids"]
        if not isinstance(recent_raw, list) or len(recent_raw) != 2:
            raise ValueError(f"a v{version} recent_ids is [blocks, current]")
        blocks_raw, current_raw = recent_raw
        if not isinstance(blocks_raw, list):
            raise ValueError(f"a v{version} recent_ids' blocks is a list")
        if version >= 3:
            recent = RecentIds(
                tuple(frozenset(from_digests(b)) for b in blocks_raw), from_digests(current_raw)
            )
        else:
            recent = ids_v1({"blocks": blocks_raw, "current": current_raw})
        changes = tuple(change_from(c, lead_id, rules_version) for c in req_list(raw, "changes"))
    else:
        open_raw = req_list(raw, "open")
        recent = ids_v1(raw["recent_ids"])
        changes = tuple(ScoreChange.from_record(c) for c in req_list(raw, "changes"))
    return settled_raw, open_raw, recent, changes


def _settled_from(settled_raw: object) -> Settled:
    if not isinstance(settled_raw, dict):
        raise ValueError("lead_state.settled must be an object")
    return Settled(
        t=opt_float(settled_raw, "t"),
        event_id=str(settled_raw["event_id"]),
        engagement=float_tuple(req_list(settled_raw, "engagement")),
        fit=req_float(settled_raw, "fit"),
        attributes=interned_fields(field_map(settled_raw["attributes"])),
        gates=tuple(Gate.from_list(g) for g in req_list(settled_raw, "gates")),
        ledger=tuple(
            Accumulator(str(k), str(n), str(c), float(v), float(r))
            for k, n, c, v, r in req_list(settled_raw, "ledger")
        ),
    )


def _caps_and_once(
    raw: Mapping[str, object],
) -> tuple[dict[str, tuple[CapEntry, ...]], dict[str, tuple[float, str]]]:
    caps_raw = raw["caps"]
    once_raw = raw["once"]
    if not isinstance(caps_raw, dict) or not isinstance(once_raw, dict):
        raise ValueError("lead_state.caps and .once must be objects")
    caps = {
        str(rule): tuple(
            CapEntry(float(t), str(event_id), float(raw_points), float(points))
            for t, event_id, raw_points, points in log
        )
        for rule, log in caps_raw.items()
    }
    once = {str(rule): (float(v[0]), str(v[1])) for rule, v in once_raw.items()}
    return caps, once


def _loop_from(raw: Mapping[str, object], marks_raw: dict[Any, Any]) -> HandoffLoop:
    handoff_raw = raw.get("handoff")
    cycle = raw.get("cycle", 0)
    return HandoffLoop(
        timers=tuple(sorted(Timer.from_list(t) for t in opt_list(raw, "timers"))),
        marks=MappingProxyType(
            {str(sid): ScenarioMark.from_list(m) for sid, m in marks_raw.items()}
        ),
        cycle=req_int({"cycle": cycle}, "cycle"),
        cold_since=opt_float(raw, "cold_since"),
        team=opt_str(raw, "team"),
        handoff=None if handoff_raw is None else Handoff.from_record(handoff_raw),
        **held_from_record(raw),
    )


def next_due_of_record(raw: Mapping[str, object]) -> float | None:
    """`handoff_loop.next_due` of the lead a record (any version) holds, read from its
    `timers` alone: the timer index is built from every record of a partition, and
    building each state would cost ~10x more."""
    check_version(raw, "lead_state", LEAD_RECORD_VERSION)
    timers = [Timer.from_list(t) for t in opt_list(raw, "timers")]
    return min(t.due_at for t in timers) if timers else None
