"""Scenario actions: what the scorer decided downstream tools should do for a lead.

The scorer only decides; mail platforms, CRMs and chat tools execute, and dedupe by
`action_id`, which is deterministic: `action:<lead_id>:<scenario_id>:<n>:<kind>`, where
`n` counts the triggers of that scenario the lead's state accepted. Replaying the same
events (or re-firing the same timer after a crash) gives the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


def action_id(lead_id: str, scenario_id: str, n: int, kind: str) -> str:
    return f"action:{lead_id}:{scenario_id}:{n}:{kind}"


class Action(NamedTuple):
    """One decided action.

    `params` are the action's settings from the rules file (template, team, queue,
    channel, program); `team` is the inside-sales team the lead routes to (for `assign`:
    the team it is assigned to). `decided_at` is the event time the decision is as of:
    the trigger's time, or the due time of a delayed scenario. `trigger` names what
    started it: `<event type>:<event id>` (the event that matched, or that made a state
    condition hold), `went_cold`, or `cool_off` (a recycling after the lost cool-off).
    """

    action_id: str
    kind: str
    lead_id: str
    account_id: str | None
    scenario_id: str
    params: Mapping[str, str]
    team: str | None
    decided_at: float
    rules_version: str
    reason: str
    trigger: str

    def to_record(self) -> dict[str, object]:
        return {
            "type": "action",
            "action_id": self.action_id,
            "kind": self.kind,
            "lead_id": self.lead_id,
            "account_id": self.account_id,
            "scenario_id": self.scenario_id,
            "params": dict(self.params),
            "team": self.team,
            "decided_at": self.decided_at,
            "rules_version": self.rules_version,
            "reason": self.reason,
            "trigger": self.trigger,
        }
