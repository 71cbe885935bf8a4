"""`LeadState` to and from a JSON-ready record (`"v": 1`, `"type": "lead_state"`).

Fields added after the first release (the hand-off loop: `timers`, `scenarios`, `cycle`,
`last_active_at`, `cold_since`, `team`, `handoff`) are optional when reading, with the
defaults of `LeadState`, so changelogs written before them still recover.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from scorer.core.dedup import RecentIds
from scorer.core.engagement import CapEntry
from scorer.core.explain import ScoreChange
from scorer.core.lead import LeadState
from scorer.core.records import (
    RECORD_VERSION,
    check_version,
    field_map,
    opt_float,
    opt_str,
    req_float,
    req_int,
    req_list,
)
from scorer.core.thresholds import Gate
from scorer.core.timeline import Accumulator, Award, Point, Settled
from scorer.core.timers import Handoff, HandoffLoop, ScenarioMark, Timer


def lead_to_record(state: LeadState) -> dict[str, object]:
    settled = state.settled
    return {
        "v": RECORD_VERSION,
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
        "recent_ids": state.recent_ids.to_record(),
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


def lead_from_record(raw: Mapping[str, object]) -> LeadState:
    check_version(raw, "lead_state")
    settled_raw = raw["settled"]
    if not isinstance(settled_raw, dict):
        raise ValueError("lead_state.settled must be an object")
    settled = Settled(
        t=opt_float(settled_raw, "t"),
        event_id=str(settled_raw["event_id"]),
        engagement=_floats(req_list(settled_raw, "engagement")),
        fit=req_float(settled_raw, "fit"),
        attributes=MappingProxyType(field_map(settled_raw["attributes"])),
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
    return LeadState(
        lead_id=str(raw["lead_id"]),
        rules_version=str(raw["rules_version"]),
        settled=settled,
        stage=str(raw["stage"]),
        stage_reason=opt_str(raw, "stage_reason"),
        account_id=opt_str(raw, "account_id"),
        account_at=opt_float(raw, "account_at"),
        last_event_at=opt_float(raw, "last_event_at"),
        fit=req_float(raw, "fit"),
        grade=str(raw["grade"]),
        open=tuple(_point_from(p) for p in req_list(raw, "open")),
        caps=MappingProxyType(caps),
        once=MappingProxyType(once),
        emitted=tuple(int(e) for e in req_list(raw, "emitted")),
        threshold_names=tuple(str(n) for n in req_list(raw, "threshold_names")),
        category_names=tuple(str(n) for n in req_list(raw, "category_names")),
        recent_ids=RecentIds.from_record(raw["recent_ids"]),
        changes=tuple(ScoreChange.from_record(c) for c in req_list(raw, "changes")),
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
        ),
    )


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
        profile=None if profile is None else MappingProxyType(field_map(profile)),
        recycle_factor=opt_float(raw, "recycle_factor"),
        engagement=_floats(req_list(raw, "engagement")),
        fit=req_float(raw, "fit"),
        gates=tuple(Gate.from_list(g) for g in req_list(raw, "gates")),
        fires=tuple(int(i) for i in req_list(raw, "fires")),
    )


def _floats(values: list[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
