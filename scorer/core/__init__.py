"""The pure scoring core: standard library only, no I/O, no clock reads.

Everything a scoring decision depends on is here, so the streaming worker and the offline
replay give identical results: the stream layer only decodes, calls, stores and emits.
"""

from scorer.core.account import (
    AccountScore,
    AccountState,
    AccountUpdate,
    account_score,
    apply_lead_signal,
)
from scorer.core.actions import Action, action_id
from scorer.core.alerts import SLA_BREACHED, Alert, account_alert_id, lead_alert_id, sla_alert_id
from scorer.core.conditions import Condition, FieldTest
from scorer.core.events import Event, EventKind, FieldValue
from scorer.core.explain import Reason, ScoreChange
from scorer.core.handoff_loop import fire_due, next_due
from scorer.core.lead import apply_event
from scorer.core.lead_reads import contributions, route_lead, top_reasons_at
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, Score, score_at
from scorer.core.records import RECORD_VERSION, RecordVersionError
from scorer.core.replay import Rejection, ReplayResult, replay
from scorer.core.routing import route
from scorer.core.rules import (
    AccountAggregate,
    AccountRules,
    AccountThreshold,
    ActionKind,
    BuyingRole,
    Cap,
    Category,
    EngagementRule,
    EventMatch,
    Explain,
    FitLevel,
    FitRule,
    GradeBands,
    Inactivity,
    Lifecycle,
    RateLimit,
    Repeat,
    Routing,
    RoutingRule,
    Rules,
    Scenario,
    ScenarioAction,
    ScoreBasis,
    Sla,
    Stage,
    StateCheck,
    Threshold,
    Timing,
    TriggerKind,
)
from scorer.core.time_scale import with_time_scale
from scorer.core.timers import Handoff, HandoffLoop, ScenarioMark, Timer, TimerKind

__all__ = [
    "RECORD_VERSION",
    "SLA_BREACHED",
    "AccountAggregate",
    "AccountRules",
    "AccountScore",
    "AccountState",
    "AccountThreshold",
    "AccountUpdate",
    "Action",
    "ActionKind",
    "Alert",
    "BuyingRole",
    "Cap",
    "Category",
    "Condition",
    "EngagementRule",
    "Event",
    "EventKind",
    "EventMatch",
    "Explain",
    "FieldTest",
    "FieldValue",
    "FitLevel",
    "FitRule",
    "GradeBands",
    "Handoff",
    "HandoffLoop",
    "Inactivity",
    "LeadSignal",
    "LeadState",
    "LeadUpdate",
    "Lifecycle",
    "Outcome",
    "RateLimit",
    "Reason",
    "RecordVersionError",
    "Rejection",
    "Repeat",
    "ReplayResult",
    "Routing",
    "RoutingRule",
    "Rules",
    "Scenario",
    "ScenarioAction",
    "ScenarioMark",
    "Score",
    "ScoreBasis",
    "ScoreChange",
    "Sla",
    "Stage",
    "StateCheck",
    "Threshold",
    "Timer",
    "TimerKind",
    "Timing",
    "TriggerKind",
    "account_alert_id",
    "account_score",
    "action_id",
    "apply_event",
    "apply_lead_signal",
    "contributions",
    "fire_due",
    "lead_alert_id",
    "next_due",
    "replay",
    "route",
    "route_lead",
    "score_at",
    "sla_alert_id",
    "top_reasons_at",
    "with_time_scale",
]
