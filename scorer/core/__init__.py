"""The pure scoring core: standard library only, no I/O, no clock reads.

Everything a scoring decision depends on is here, so the streaming worker and the offline
replay give identical results: the stream layer only decodes, calls, stores and emits.
"""

from scorer.core.account import (
    AccountScore,
    AccountState,
    AccountUpdate,
    LeadSignal,
    account_score,
    apply_lead_signal,
)
from scorer.core.alerts import Alert, account_alert_id, lead_alert_id
from scorer.core.conditions import Condition, FieldTest
from scorer.core.events import Event, EventKind, FieldValue
from scorer.core.explain import Reason, ScoreChange
from scorer.core.lead import (
    LeadState,
    LeadUpdate,
    Outcome,
    Score,
    apply_event,
    contributions,
    score_at,
    top_reasons_at,
)
from scorer.core.records import RECORD_VERSION, RecordVersionError
from scorer.core.replay import Rejection, ReplayResult, replay
from scorer.core.rules import (
    AccountAggregate,
    AccountRules,
    AccountThreshold,
    BuyingRole,
    Cap,
    Category,
    EngagementRule,
    Explain,
    FitLevel,
    FitRule,
    GradeBands,
    Lifecycle,
    Routing,
    Rules,
    ScoreBasis,
    Stage,
    Threshold,
    Timing,
)

__all__ = [
    "RECORD_VERSION",
    "AccountAggregate",
    "AccountRules",
    "AccountScore",
    "AccountState",
    "AccountThreshold",
    "AccountUpdate",
    "Alert",
    "BuyingRole",
    "Cap",
    "Category",
    "Condition",
    "EngagementRule",
    "Event",
    "EventKind",
    "Explain",
    "FieldTest",
    "FieldValue",
    "FitLevel",
    "FitRule",
    "GradeBands",
    "LeadSignal",
    "LeadState",
    "LeadUpdate",
    "Lifecycle",
    "Outcome",
    "Reason",
    "RecordVersionError",
    "Rejection",
    "ReplayResult",
    "Routing",
    "Rules",
    "Score",
    "ScoreBasis",
    "ScoreChange",
    "Stage",
    "Threshold",
    "Timing",
    "account_alert_id",
    "account_score",
    "apply_event",
    "apply_lead_signal",
    "contributions",
    "lead_alert_id",
    "replay",
    "score_at",
    "top_reasons_at",
]
