"""The parts of a lead record (`lead_records.py`): score changes, open points and the
settled summary (positional since version 2), the recent event ids (digests since
version 3), held feedback and stage moves; each written and read here."""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from collections.abc import Iterable, Mapping
from math import copysign
from typing import Any

from scorer.core.dedup import DIGEST_BYTES, RecentIds
from scorer.core.explain import ScoreChange
from scorer.core.lead_state import LeadState
from scorer.core.records import (
    field_map,
    opt_float,
    req_float,
    req_list,
)
from scorer.core.rules import Award
from scorer.core.thresholds import Gate
from scorer.core.timeline import Point, interned_fields
from scorer.core.timers import Held, StageMove


# Held feedback and stage moves (issue 17): optional keys, absent when empty.
def held_to_record(state: LeadState, record: dict[str, object]) -> None:
    loop = state.loop
    if loop.held:
        record["held"] = [h.to_list() for h in loop.held]
    if loop.stages:
        record["stages"] = [m.to_list() for m in loop.stages]
    if loop.unhanded:
        record["unhanded"] = True
    if loop.started_at is not None:
        record["started_at"] = loop.started_at


def held_from_record(raw: Mapping[str, object]) -> dict[str, Any]:
    return {
        "held": tuple(Held.from_list(h) for h in opt_list(raw, "held")),
        "stages": tuple(StageMove.from_list(m) for m in opt_list(raw, "stages")),
        "unhanded": raw.get("unhanded") is True,
        "started_at": opt_float(raw, "started_at"),
    }


def digests_text(digests: Iterable[bytes]) -> str:
    return b64encode(b"".join(digests)).decode()


def from_digests(raw: object) -> tuple[bytes, ...]:
    if not isinstance(raw, str):
        raise ValueError("a v3 recent_ids block is a base64 string")
    try:
        packed = b64decode(raw, validate=True)
    except binascii.Error:
        raise ValueError("a v3 recent_ids block is not base64") from None
    if len(packed) % DIGEST_BYTES:
        raise ValueError(f"a v3 recent_ids block holds {DIGEST_BYTES}-byte digests")
    return tuple(packed[i : i + DIGEST_BYTES] for i in range(0, len(packed), DIGEST_BYTES))


def same_float(a: float, b: float) -> bool:
    """Whether two floats are the very same value (== alone equates 0.0 and -0.0)."""
    return a == b and (a != 0.0 or copysign(1.0, a) == copysign(1.0, b))


def change_list(change: ScoreChange, state: LeadState) -> list[object]:
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
        None if same_float(change.as_of, change.occurred_at) else change.as_of,
        change.note,
    ]
    extra: dict[str, object] = {}
    if change.lead_id != state.lead_id:
        extra["lead_id"] = change.lead_id
    if change.rules_version != state.rules_version:
        extra["rules_version"] = change.rules_version
    if not same_float(change.points_now, change.points_awarded * change.decay_factor):
        extra["points_now"] = change.points_now
    if extra:
        row.append(extra)
    return row


def change_from(raw: object, lead_id: str, rules_version: str) -> ScoreChange:
    if not isinstance(raw, list) or len(raw) not in (11, 12):
        raise ValueError("a v2 score change is a list of 11 or 12 items")
    extra = raw[11] if len(raw) == 12 else {}
    if not isinstance(extra, dict):
        raise ValueError("a v2 score change's 12th item must be an object")
    named = dict(zip(CHANGE_KEYS, raw, strict=False))
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


CHANGE_KEYS = (
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


POINT_KEYS = (
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


SETTLED_KEYS = ("t", "event_id", "engagement", "fit", "attributes", "gates", "ledger")


def point_record(point: Point) -> dict[str, object]:
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


def point_list(point: Point) -> list[object]:
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


def named_items(raw: object, keys: tuple[str, ...], what: str) -> dict[str, object]:
    """A v2 positional list as the v1 object it stands for."""
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise ValueError(f"a v2 {what} is a list of {len(keys)} items")
    return dict(zip(keys, raw, strict=True))


def ids_v1(raw: object) -> RecentIds:
    """Recent ids as records before v3 held them: the ids themselves."""
    if not isinstance(raw, dict):
        raise ValueError("recent_ids must be an object with blocks and current")
    blocks = raw.get("blocks", [])
    current = raw.get("current", [])
    if not isinstance(blocks, list) or not isinstance(current, list):
        raise ValueError("recent_ids.blocks and .current must be lists")
    return RecentIds.from_ids(blocks, current)


def opt_list(raw: Mapping[str, object], key: str) -> list[Any]:
    return [] if raw.get(key) is None else req_list(raw, key)


def point_from(raw: Any) -> Point:
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
        engagement=float_tuple(req_list(raw, "engagement")),
        fit=req_float(raw, "fit"),
        gates=tuple(Gate.from_list(g) for g in req_list(raw, "gates")),
        fires=tuple(int(i) for i in req_list(raw, "fires")),
    )


def float_tuple(values: list[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
