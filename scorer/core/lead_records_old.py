"""Lead records of versions 1 and 2, as scorers before the compact record and before the
digests wrote them: written only to test that such records still restore (and to measure
the compaction). `lead_records.lead_from_record` reads every version."""

from __future__ import annotations

from collections.abc import Iterable

from scorer.core.dedup import event_digest
from scorer.core.lead_record_parts import (
    held_to_record,
    point_record,
)
from scorer.core.lead_records import lead_to_record
from scorer.core.lead_state import LeadState


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
        "open": [point_record(p) for p in state.open],
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
    held_to_record(state, record)
    return record
