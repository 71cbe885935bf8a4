"""`LeadState` to and from a JSON-ready record (`"v": 3`, `"type": "lead_state"`).

Version 2 is version 1 made compact, version 3 is version 2 with the remembered event ids
as digests (see `LEAD_RECORD_VERSION`); all three are read, into the same state. The
record is written once per scored event (the changelog), so its size is
most of the bytes a worker writes.

Fields added after the first release (the hand-off loop: `timers`, `scenarios`, `cycle`,
`last_active_at`, `cold_since`, `team`, `handoff`) are optional when reading, with the
defaults of `LeadState`, so changelogs written before them still recover.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from collections.abc import Iterable, Mapping
from math import copysign
from types import MappingProxyType
from typing import Any

from scorer.core.dedup import DIGEST_BYTES, RecentIds, event_digest
from scorer.core.engagement import CapEntry
from scorer.core.explain import ScoreChange
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
from scorer.core.rules import Award
from scorer.core.thresholds import Gate
from scorer.core.timeline import Accumulator, Point, Settled, interned_fields
from scorer.core.timers import Handoff, HandoffLoop, Held, ScenarioMark, StageMove, Timer

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
            [_digests(sorted(b)) for b in state.recent_ids.blocks],
            _digests(state.recent_ids.current),
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
        "open": [_point_list(p) for p in state.open],
        "caps": {rule: [e.to_list() for e in log] for rule, log in state.caps.items()},
        "once": {rule: [t, event_id] for rule, (t, event_id) in state.once.items()},
        "changes": [_change_list(c, state) for c in state.changes],
        "timers": [t.to_list() for t in state.timers],
        "scenarios": {sid: mark.to_list() for sid, mark in state.scenarios.items()},
        "cycle": state.cycle,
        "handoff": None if state.handoff is None else state.handoff.to_record(),
    }
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
    _held_to_record(state, record)
    return record


# -- held feedback and stage moves (issue 17; optional keys, absent when empty) -------------


def _held_to_record(state: LeadState, record: dict[str, object]) -> None:
    loop = state.loop
    if loop.held:
        record["held"] = [h.to_list() for h in loop.held]
    if loop.stages:
        record["stages"] = [m.to_list() for m in loop.stages]
    if loop.unhanded:
        record["unhanded"] = True
    if loop.started_at is not None:
        record["started_at"] = loop.started_at


def _held_from_record(raw: Mapping[str, object]) -> dict[str, Any]:
    return {
        "held": tuple(Held.from_list(h) for h in _opt_list(raw, "held")),
        "stages": tuple(StageMove.from_list(m) for m in _opt_list(raw, "stages")),
        "unhanded": raw.get("unhanded") is True,
        "started_at": opt_float(raw, "started_at"),
    }


def _digests(digests: Iterable[bytes]) -> str:
    return b64encode(b"".join(digests)).decode()


def _from_digests(raw: object) -> tuple[bytes, ...]:
    if not isinstance(raw, str):
        raise ValueError("a v3 recent_ids block is a base64 string")
    try:
        packed = b64decode(raw, validate=True)
    except binascii.Error:
        raise ValueError("a v3 recent_ids block is not base64") from None
    if len(packed) % DIGEST_BYTES:
        raise ValueError(f"a v3 recent_ids block holds {DIGEST_BYTES}-byte digests")
    return tuple(packed[i : i + DIGEST_BYTES] for i in range(0, len(packed), DIGEST_BYTES))


def _recent_ids_as_ids(
    state: LeadState, event_ids: Iterable[str]
) -> tuple[list[list[str]], list[str]]:
    """The state's recent ids spelled out, from the ids it applied (records before v3
    held the ids themselves; a digest cannot be turned back into its id)."""
    by_digest = {event_digest(i): i for i in event_ids}
    recent = state.recent_ids
    return [sorted(by_digest[d] for d in b) for b in recent.blocks], [
        by_digest[d] for d in recent.current
    ]


def lead_to_record_v2(state: LeadState, event_ids: Iterable[str]) -> dict[str, object]:
    """The version-2 record (recent ids spelled out, no rate window), given the ids the
    lead applied: kept to test that such records still restore."""
    blocks, current = _recent_ids_as_ids(state, event_ids)
    record = {**lead_to_record(state), "v": 2, "recent_ids": [blocks, current]}
    record.pop("rate", None)
    return record


def lead_to_record_v1(state: LeadState, event_ids: Iterable[str]) -> dict[str, object]:
    """The version-1 record (what scorers before the compact record wrote), given the
    ids the lead applied: kept to test that such records still restore, and to measure
    the compaction."""
    settled = state.settled
    blocks, current = _recent_ids_as_ids(state, event_ids)
    record: dict[str, object] = {
        "v": 1,
        "type": "lead_state",
        "lead_id": state.lead_id,
        "rules_version": state.rules_version,
        "stage": state.stage,
        "stage_reason": state.stage_reason,
        "account_id": state.account_id,
        "account_at": state.account_at,
        "last_event_at": state.last_event_at,
        "fit": state.fit,
        "grade": state.grade,
        "seq": state.seq,
        "last_engaged_at": state.last_engaged_at,
        "product": state.product,
        "role": state.role,
        "company_fit": state.company_fit,
        "fit_rules": list(state.fit_rules),
        "threshold_names": list(state.threshold_names),
        "category_names": list(state.category_names),
        "emitted": list(state.emitted),
        "recent_ids": {"blocks": blocks, "current": current},
        "settled": {
            "t": settled.t,
            "event_id": settled.event_id,
            "engagement": list(settled.engagement),
            "fit": settled.fit,
            "attributes": dict(settled.attributes),
            "gates": [g.to_list() for g in settled.gates],
            "ledger": [[a.kind, a.name, a.category, a.value, a.ref] for a in settled.ledger],
        },
        "open": [_point_record(p) for p in state.open],
        "caps": {rule: [e.to_list() for e in log] for rule, log in state.caps.items()},
        "once": {rule: [t, event_id] for rule, (t, event_id) in state.once.items()},
        "changes": [c.to_record() for c in state.changes],
        # The loop memory is stored flat, next to the rest.
        "timers": [t.to_list() for t in state.timers],
        "scenarios": {sid: mark.to_list() for sid, mark in state.scenarios.items()},
        "cycle": state.cycle,
        "last_active_at": state.last_active_at,
        "cold_since": state.cold_since,
        "team": state.team,
        "handoff": None if state.handoff is None else state.handoff.to_record(),
    }
    _held_to_record(state, record)
    return record


def _same(a: float, b: float) -> bool:
    """Whether two floats are the very same value (== alone equates 0.0 and -0.0)."""
    return a == b and (a != 0.0 or copysign(1.0, a) == copysign(1.0, b))


def _change_list(change: ScoreChange, state: LeadState) -> list[object]:
    """A score change as [event_id, rule_id, category, points_raw, points_awarded,
    decay_factor, score_before, score_after, occurred_at, as_of, note] plus, only when
    they are not what the rest determines, {"lead_id", "rules_version", "points_now"}:
    the lead's own id and rules version (almost always), points_awarded * decay_factor
    (always, as the core computes it). `as_of` is null when it equals `occurred_at`;
    `capped` is derived, as in v1."""
    row: list[object] = [
        change.event_id,
        change.rule_id,
        change.category,
        change.points_raw,
        change.points_awarded,
        change.decay_factor,
        change.score_before,
        change.score_after,
        change.occurred_at,
        None if _same(change.as_of, change.occurred_at) else change.as_of,
        change.note,
    ]
    extra: dict[str, object] = {}
    if change.lead_id != state.lead_id:
        extra["lead_id"] = change.lead_id
    if change.rules_version != state.rules_version:
        extra["rules_version"] = change.rules_version
    if not _same(change.points_now, change.points_awarded * change.decay_factor):
        extra["points_now"] = change.points_now
    if extra:
        row.append(extra)
    return row


def _change_from(raw: object, lead_id: str, rules_version: str) -> ScoreChange:
    if not isinstance(raw, list) or len(raw) not in (11, 12):
        raise ValueError("a v2 score change is a list of 11 or 12 items")
    extra = raw[11] if len(raw) == 12 else {}
    if not isinstance(extra, dict):
        raise ValueError("a v2 score change's 12th item must be an object")
    named = dict(zip(_CHANGE_KEYS, raw, strict=False))
    awarded, factor = req_float(named, "points_awarded"), req_float(named, "decay_factor")
    occurred_at = req_float(named, "occurred_at")
    as_of = opt_float(named, "as_of")
    note = named["note"]
    return ScoreChange(
        lead_id=str(extra.get("lead_id", lead_id)),
        event_id=str(named["event_id"]),
        rule_id=str(named["rule_id"]),
        rules_version=str(extra.get("rules_version", rules_version)),
        category=str(named["category"]),
        points_raw=req_float(named, "points_raw"),
        points_awarded=awarded,
        decay_factor=factor,
        points_now=req_float(extra, "points_now") if "points_now" in extra else awarded * factor,
        score_before=req_float(named, "score_before"),
        score_after=req_float(named, "score_after"),
        occurred_at=occurred_at,
        as_of=occurred_at if as_of is None else as_of,
        note=None if note is None else str(note),
    )


_CHANGE_KEYS = (
    "event_id",
    "rule_id",
    "category",
    "points_raw",
    "points_awarded",
    "decay_factor",
    "score_before",
    "score_after",
    "occurred_at",
    "as_of",
    "note",
)
_POINT_KEYS = (
    "t",
    "event_id",
    "awards",
    "profile",
    "recycle_factor",
    "engagement",
    "fit",
    "gates",
    "fires",
)
_SETTLED_KEYS = ("t", "event_id", "engagement", "fit", "attributes", "gates", "ledger")


def _point_record(point: Point) -> dict[str, object]:
    return {
        "t": point.t,
        "event_id": point.event_id,
        "awards": [[a.rule_id, a.category, a.raw, a.points, a.product] for a in point.awards],
        "profile": None if point.profile is None else dict(point.profile),
        "recycle_factor": point.recycle_factor,
        "engagement": list(point.engagement),
        "fit": point.fit,
        "gates": [g.to_list() for g in point.gates],
        "fires": list(point.fires),
    }


def _point_list(point: Point) -> list[object]:
    return [
        point.t,
        point.event_id,
        [[a.rule_id, a.category, a.raw, a.points, a.product] for a in point.awards],
        None if point.profile is None else dict(point.profile),
        point.recycle_factor,
        list(point.engagement),
        point.fit,
        [g.to_list() for g in point.gates],
        list(point.fires),
    ]


def _named(raw: object, keys: tuple[str, ...], what: str) -> dict[str, object]:
    """A v2 positional list as the v1 object it stands for."""
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise ValueError(f"a v2 {what} is a list of {len(keys)} items")
    return dict(zip(keys, raw, strict=True))


def lead_from_record(raw: Mapping[str, object]) -> LeadState:
    """A lead state from its record, version 1, 2 or 3 (the same state either way)."""
    version = check_version(raw, "lead_state", LEAD_RECORD_VERSION)
    settled_raw = raw["settled"]
    lead_id, rules_version = str(raw["lead_id"]), str(raw["rules_version"])
    if version >= 2:
        settled_raw = _named(settled_raw, _SETTLED_KEYS, "settled summary")
        open_raw = [_named(p, _POINT_KEYS, "open point") for p in req_list(raw, "open")]
        recent_raw = raw["recent_ids"]
        if not isinstance(recent_raw, list) or len(recent_raw) != 2:
            raise ValueError(f"a v{version} recent_ids is [blocks, current]")
        blocks_raw, current_raw = recent_raw
        if not isinstance(blocks_raw, list):
            raise ValueError(f"a v{version} recent_ids' blocks is a list")
        if version >= 3:
            recent = RecentIds(
                tuple(frozenset(_from_digests(b)) for b in blocks_raw), _from_digests(current_raw)
            )
        else:
            recent = _ids_v1({"blocks": blocks_raw, "current": current_raw})
        changes = tuple(_change_from(c, lead_id, rules_version) for c in req_list(raw, "changes"))
    else:
        open_raw = req_list(raw, "open")
        recent = _ids_v1(raw["recent_ids"])
        changes = tuple(ScoreChange.from_record(c) for c in req_list(raw, "changes"))
    if not isinstance(settled_raw, dict):
        raise ValueError("lead_state.settled must be an object")
    settled = Settled(
        t=opt_float(settled_raw, "t"),
        event_id=str(settled_raw["event_id"]),
        engagement=_floats(req_list(settled_raw, "engagement")),
        fit=req_float(settled_raw, "fit"),
        attributes=interned_fields(field_map(settled_raw["attributes"])),
        gates=tuple(Gate.from_list(g) for g in req_list(settled_raw, "gates")),
        ledger=tuple(
            Accumulator(str(k), str(n), str(c), float(v), float(r))
            for k, n, c, v, r in req_list(settled_raw, "ledger")
        ),
    )
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
    marks_raw = raw.get("scenarios") or {}
    if not isinstance(marks_raw, dict):
        raise ValueError("lead_state.scenarios must be an object")
    handoff_raw = raw.get("handoff")
    cycle = raw.get("cycle", 0)
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
        open=tuple(_point_from(p) for p in open_raw),
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
        loop=HandoffLoop(
            timers=tuple(sorted(Timer.from_list(t) for t in _opt_list(raw, "timers"))),
            marks=MappingProxyType(
                {str(sid): ScenarioMark.from_list(m) for sid, m in marks_raw.items()}
            ),
            cycle=req_int({"cycle": cycle}, "cycle"),
            cold_since=opt_float(raw, "cold_since"),
            team=opt_str(raw, "team"),
            handoff=None if handoff_raw is None else Handoff.from_record(handoff_raw),
            **_held_from_record(raw),
        ),
        rate=None
        if rate_raw is None
        else (req_float({"rate": rate_raw[0]}, "rate"), req_int({"rate": rate_raw[1]}, "rate")),
    )


def _ids_v1(raw: object) -> RecentIds:
    """Recent ids as records before v3 held them: the ids themselves."""
    if not isinstance(raw, dict):
        raise ValueError("recent_ids must be an object with blocks and current")
    blocks = raw.get("blocks", [])
    current = raw.get("current", [])
    if not isinstance(blocks, list) or not isinstance(current, list):
        raise ValueError("recent_ids.blocks and .current must be lists")
    return RecentIds.from_ids(blocks, current)


def _opt_list(raw: Mapping[str, object], key: str) -> list[Any]:
    return [] if raw.get(key) is None else req_list(raw, key)


def _point_from(raw: Any) -> Point:
    if not isinstance(raw, dict):
        raise ValueError("lead_state.open items must be objects")
    profile = raw.get("profile")
    return Point(
        t=req_float(raw, "t"),
        event_id=str(raw["event_id"]),
        awards=tuple(
            Award(str(r), str(c), float(rw), float(p), None if prod is None else str(prod))
            for r, c, rw, p, prod in req_list(raw, "awards")
        ),
        profile=None if profile is None else interned_fields(field_map(profile)),
        recycle_factor=opt_float(raw, "recycle_factor"),
        engagement=_floats(req_list(raw, "engagement")),
        fit=req_float(raw, "fit"),
        gates=tuple(Gate.from_list(g) for g in req_list(raw, "gates")),
        fires=tuple(int(i) for i in req_list(raw, "fires")),
    )


def _floats(values: list[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
