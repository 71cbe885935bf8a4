"""The rules file schema (pydantic v2), mirrored into `scorer.core.rules` types.

Every model forbids unknown fields so a typo ("pointz") is an error, not a silent default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from scorer.core.events import EventKind

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
NEVER = ("never", "none", "off")


def parse_duration(value: Any) -> float:
    """`90`, `"90s"`, `"15m"`, `"24h"`, `"14d"`, `"2w"` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '14d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 24h, 14d, 2w)")


def parse_half_life(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in NEVER):
        return None
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a half-life must be positive (or 'never')")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
HalfLife = Annotated[float | None, BeforeValidator(parse_half_life)]
Scalar = str | bool | int | float


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class FieldTestSpec(Strict):
    """How one field is tested: the value must match one of `equals`, `glob`, `contains`
    and `regex` (those given), lie within `min`..`max` (if given); `not` inverts."""

    equals: Annotated[list[Scalar], BeforeValidator(_as_list)] = Field(default_factory=list)
    glob: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    contains: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    regex: str | None = None
    min: float | None = None
    max: float | None = None
    present: bool | None = None
    negate: bool = Field(default=False, alias="not")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _range_ordered(self) -> FieldTestSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


def _shorthand_test(value: Any) -> Any:
    # `industry: manufacturing` and `seniority: [vp, director]` mean "equals one of".
    if isinstance(value, dict):
        return value
    return {"equals": value if isinstance(value, list) else [value]}


FieldTestValue = Annotated[FieldTestSpec, BeforeValidator(_shorthand_test)]
ConditionMap = dict[str, FieldTestValue]


class ConditionSpec(Strict):
    when: ConditionMap = Field(default_factory=dict)
    any: list[ConditionMap] = Field(default_factory=list)


class FitRuleSpec(ConditionSpec):
    id: str = Field(min_length=1)
    label: str = ""
    points: float
    level: Literal["person", "company"] = "person"


class CapSpec(Strict):
    points: float = Field(gt=0)
    window: Duration

    @field_validator("window")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a cap window must be positive")
        return value


SCORING_KINDS = frozenset(k for k in EventKind if k.category in {"web", "email", "seminar"})


def _scoring_kind(value: str) -> str:
    if value not in _SCORING_KIND_VALUES:
        allowed = ", ".join(sorted(_SCORING_KIND_VALUES))
        raise ValueError(f"unknown or non-scoring event type {value!r} (one of: {allowed})")
    return value


_SCORING_KIND_VALUES = frozenset(k.value for k in SCORING_KINDS)
ScoringKind = Annotated[str, AfterValidator(_scoring_kind)]


class EngagementRuleSpec(ConditionSpec):
    id: str = Field(min_length=1)
    label: str = ""
    on: Annotated[list[ScoringKind], BeforeValidator(_as_list)] = Field(min_length=1)
    points: float
    category: str | None = None
    cap: CapSpec | None = None
    once: bool = False
    exclusive: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _once_or_cap(self) -> EngagementRuleSpec:
        if self.once and self.cap is not None:
            raise ValueError("a rule is either once-only or capped, not both")
        return self


class CategorySpec(Strict):
    half_life: HalfLife


class FitSpec(Strict):
    rules: list[FitRuleSpec] = Field(default_factory=list)


class EngagementSpec(Strict):
    rules: list[EngagementRuleSpec] = Field(default_factory=list)


class GradesSpec(Strict):
    fit: dict[str, float] = Field(default_factory=lambda: {"A": 40.0, "B": 25.0, "C": 10.0})
    fit_fallback: str = "D"
    engagement: dict[str, float] = Field(default_factory=lambda: {"1": 60.0, "2": 30.0, "3": 10.0})
    engagement_fallback: str = "4"

    @field_validator("fit", "engagement")
    @classmethod
    def _descending(cls, value: dict[str, float]) -> dict[str, float]:
        minimums = list(value.values())
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
            raise ValueError("bands must be listed best first, with strictly falling minimums")
        return value


STAGE_NAMES = Literal[
    "new", "engaged", "mql", "sal", "sql", "won", "lost", "recycled", "disqualified"
]


class ThresholdSpec(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    value: float
    rearm_below: float
    cooldown: Duration = 0.0
    basis: Literal["total", "engagement", "fit"] = "total"
    moves_to: STAGE_NAMES | None = None
    alert_in_stages: list[STAGE_NAMES] | None = None
    # None: only a threshold that moves the lead to mql re-arms when the lead is recycled.
    rearm_on_recycle: bool | None = None

    @model_validator(mode="after")
    def _rearm_below_value(self) -> ThresholdSpec:
        if self.rearm_below > self.value:
            raise ValueError("rearm_below must not be above value (that is the hysteresis band)")
        return self


class RecycleSpec(Strict):
    engagement: Literal["reset", "discount", "keep"] = "reset"
    factor: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _factor_matches(self) -> RecycleSpec:
        if self.engagement == "discount" and self.factor is None:
            raise ValueError("engagement: discount needs a factor between 0 and 1")
        if self.engagement != "discount" and self.factor is not None:
            raise ValueError("factor is only used with engagement: discount")
        return self


class LifecycleSpec(Strict):
    engaged_min_points: float = 1.0
    recycle: RecycleSpec = Field(default_factory=RecycleSpec)
    recycle_lost: bool = True
    disqualify_reasons: list[str] = Field(default_factory=list)
    lost_cool_off: Duration = 0.0


class RoutingRuleSpec(ConditionSpec):
    """`team` for leads interested in `product` (any, if omitted) whose attributes match
    `when` / `any` (region, account_owner, employee_count ...)."""

    team: str = Field(min_length=1)
    product: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)


class RoutingSpec(Strict):
    default_team: str | None = None
    by_product: dict[str, str] = Field(default_factory=dict)
    rules: list[RoutingRuleSpec] = Field(default_factory=list)


_EVENT_KIND_VALUES = frozenset(k.value for k in EventKind)


def _event_kind(value: str) -> str:
    if value not in _EVENT_KIND_VALUES:
        allowed = ", ".join(sorted(_EVENT_KIND_VALUES))
        raise ValueError(f"unknown event type {value!r} (one of: {allowed})")
    return value


AnyKind = Annotated[str, AfterValidator(_event_kind)]
KindList = Annotated[list[AnyKind], BeforeValidator(_as_list)]
StageList = Annotated[list[STAGE_NAMES], BeforeValidator(_as_list)]


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be a positive duration")
    return value


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]


class ScoreTestSpec(Strict):
    min: float | None = None
    max: float | None = None
    basis: Literal["total", "engagement", "fit"] = "total"

    @model_validator(mode="after")
    def _bounded(self) -> ScoreTestSpec:
        if self.min is None and self.max is None:
            raise ValueError("give min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class StateCheckSpec(Strict):
    """Stage and/or score conditions, read at one moment (decayed scores)."""

    stage: StageList | None = None
    score: ScoreTestSpec | None = None

    @model_validator(mode="after")
    def _something(self) -> StateCheckSpec:
        if self.stage is None and self.score is None:
            raise ValueError("give stage and/or score")
        return self


class TriggerSpec(ConditionSpec):
    """Exactly one of: `event` (with optional `when` / `any` on the event's fields),
    `stage` and/or `score` (a state condition), `went_cold: true`."""

    event: KindList | None = None
    stage: StageList | None = None
    score: ScoreTestSpec | None = None
    went_cold: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerSpec:
        kinds = [
            self.event is not None,
            self.stage is not None or self.score is not None,
            self.went_cold is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("a trigger is exactly one of: event, stage/score, went_cold")
        if self.event is None and (self.when or self.any):
            raise ValueError("when/any test event fields: only with an event trigger")
        if self.event is not None and not self.event:
            raise ValueError("event needs at least one event type")
        return self


class UnlessSpec(ConditionSpec):
    event: KindList = Field(min_length=1)


def _shorthand(key: str) -> Any:
    # `send_email: case-study` means `send_email: {template: case-study}`.
    def expand(value: Any) -> Any:
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(expand)


class SendEmailSpec(Strict):
    template: str = Field(min_length=1)


class AssignSpec(Strict):
    team: str | None = Field(default=None, min_length=1)
    queue: str | None = Field(default=None, min_length=1)


class NotifySpec(Strict):
    channel: str = Field(min_length=1)
    template: str | None = Field(default=None, min_length=1)


class EnrollNurtureSpec(Strict):
    program: str = Field(min_length=1)


ACTION_KINDS = ("send_email", "assign", "notify", "enroll_nurture")


class ActionSpec(Strict):
    """One action: a single key naming its kind, with its settings."""

    send_email: Annotated[SendEmailSpec, _shorthand("template")] | None = None
    assign: Annotated[AssignSpec, _shorthand("team")] | None = None
    notify: Annotated[NotifySpec, _shorthand("channel")] | None = None
    enroll_nurture: Annotated[EnrollNurtureSpec, _shorthand("program")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _assign_without_params(cls, data: Any) -> Any:
        # `- assign:` with nothing after it (YAML null): the team comes from routing.
        if isinstance(data, dict) and "assign" in data and data["assign"] is None:
            return {**data, "assign": {}}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> ActionSpec:
        if len(self.kinds()) != 1:
            raise ValueError(f"an action is exactly one of: {', '.join(ACTION_KINDS)}")
        return self

    def kinds(self) -> list[str]:
        return [k for k in ACTION_KINDS if getattr(self, k) is not None]


class RepeatEverySpec(Strict):
    at_most_once_per: PositiveDuration


RepeatSpec = Literal["once_per_cycle", "once"] | RepeatEverySpec


class ScenarioSpec(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = ""
    trigger: TriggerSpec
    delay: Duration = 0.0
    unless: Annotated[list[UnlessSpec], BeforeValidator(_as_list)] = Field(default_factory=list)
    require: StateCheckSpec | None = None
    # `cooldown: D` is the older spelling of `repeat: {at_most_once_per: D}`.
    cooldown: Duration | None = None
    repeat: RepeatSpec | None = None
    actions: list[ActionSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        if self.unless and self.delay <= 0:
            raise ValueError("unless needs a delay (it cancels a trigger while it waits)")
        if self.cooldown is not None and self.repeat is not None:
            raise ValueError(
                "give repeat or cooldown, not both (cooldown: D is repeat: {at_most_once_per: D})"
            )
        return self

    def period(self) -> float | None:
        """The least time between two firings (None: once per cycle or once ever)."""
        if isinstance(self.repeat, RepeatEverySpec):
            return self.repeat.at_most_once_per
        return self.cooldown


DEFAULT_ACTIVITY_KINDS = [
    "web.page_view",
    "web.content_download",
    "web.form_submit",
    "email.open",
    "email.click",
    "seminar.registered",
    "seminar.attended",
]


class InactivitySpec(Strict):
    after: PositiveDuration
    activity: KindList = Field(default_factory=lambda: list(DEFAULT_ACTIVITY_KINDS), min_length=1)


class SlaSpec(Strict):
    follow_up: PositiveDuration
    by_team: dict[str, PositiveDuration] = Field(default_factory=dict)


DEFAULT_PROFILE_LATENESS = 2 * 86400.0


def _lateness_or_never(value: Any) -> float:
    """A duration, or `never` (no event of the kind is ever refused for lateness)."""
    if isinstance(value, str) and value.strip().lower() in NEVER:
        return float("inf")
    return parse_duration(value)


class LatenessSpec(Strict):
    """Allowed lateness per input kind; web, email and seminar default to `default`."""

    default: Duration = 3600.0
    web: Duration | None = None
    email: Duration | None = None
    seminar: Duration | None = None
    # Profile updates are placed on the trajectory at their event time, so they need a
    # finite window (the open part of a lead's history); feedback does not.
    profile: Duration = DEFAULT_PROFILE_LATENESS
    feedback: Annotated[float, BeforeValidator(_lateness_or_never)] = float("inf")

    def by_kind(self) -> dict[str, float]:
        """Every input kind (event category) with its allowed lateness (inf = never)."""
        default = self.default
        return {
            "web": default if self.web is None else self.web,
            "email": default if self.email is None else self.email,
            "seminar": default if self.seminar is None else self.seminar,
            "profile": self.profile,
            "feedback": self.feedback,
        }


def _lateness_spec(value: Any) -> Any:
    # `allowed_lateness: 6h` is the default of the activity kinds (checked here, so that
    # an error names `allowed_lateness` itself).
    if isinstance(value, dict | LatenessSpec):
        return value
    return {"default": parse_duration(value)}


class TimingSpec(Strict):
    allowed_lateness: Annotated[LatenessSpec, BeforeValidator(_lateness_spec)] = Field(
        default_factory=LatenessSpec
    )
    future_skew: Duration = 300.0
    alert_hold: Duration = 0.0
    max_open_events: int = Field(default=256, ge=1, le=100_000)
    max_open_profile_fields: int = Field(default=256, ge=1, le=100_000)
    max_age: PositiveDuration | None = 400 * 86400.0

    @model_validator(mode="after")
    def _hold_within_lateness(self) -> TimingSpec:
        if self.alert_hold > self.allowed_lateness.default:
            raise ValueError("alert_hold cannot exceed allowed_lateness")
        return self


class IdentitySpec(Strict):
    lookback: PositiveDuration = 90 * 86400.0
    max_events: int = Field(default=500, ge=1, le=10_000)


class RateLimitSpec(Strict):
    max_events: int = Field(default=600, ge=1, le=1_000_000)
    per: PositiveDuration = 60.0


class ExplainSpec(Strict):
    last_changes: int = Field(default=10, ge=0, le=1000)
    top_reasons: int = Field(default=5, ge=1, le=100)
    recent_event_ids: int = Field(default=128, ge=1, le=10_000)


class EngagedContactSpec(Strict):
    min_points: float = 1.0
    window: Duration = 14 * 86400.0


class AccountThresholdSpec(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    value: float
    rearm_below: float
    cooldown: Duration = 0.0
    min_engaged_contacts: int = Field(default=0, ge=0)
    min_roles: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _rearm_below_value(self) -> AccountThresholdSpec:
        if self.rearm_below > self.value:
            raise ValueError("rearm_below must not be above value (that is the hysteresis band)")
        return self


class AccountSpec(Strict):
    aggregate: Literal["sum", "top_n"] = "sum"
    top_n: int = Field(default=5, ge=1)
    engaged_contact: EngagedContactSpec = Field(default_factory=EngagedContactSpec)
    roles: dict[str, ConditionSpec] = Field(default_factory=dict)
    # The order roles are tried in (a lead has the first that matches); default: the
    # order of `roles`. When given, it names every role once.
    role_precedence: list[str] | None = None
    role_points: float = 0.0
    thresholds: list[AccountThresholdSpec] = Field(default_factory=list)
    alert_contacts: int = Field(default=20, ge=1)


def _time_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (IANA, e.g. Asia/Tokyo)") from None
    return value


class RulesFileSpec(Strict):
    version: str = Field(min_length=1)
    description: str = ""
    # The zone people read times in (the `scorer dev` terminal); scoring never uses it.
    time_zone: Annotated[str | None, AfterValidator(_time_zone)] = None
    timing: TimingSpec = Field(default_factory=TimingSpec)
    categories: dict[str, CategorySpec] = Field(
        default_factory=lambda: {
            "web": CategorySpec(half_life=14 * 86400.0),
            "email": CategorySpec(half_life=30 * 86400.0),
            "seminar": CategorySpec(half_life=30 * 86400.0),
        }
    )
    fit: FitSpec = Field(default_factory=FitSpec)
    engagement: EngagementSpec = Field(default_factory=EngagementSpec)
    grades: GradesSpec = Field(default_factory=GradesSpec)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    lifecycle: LifecycleSpec = Field(default_factory=LifecycleSpec)
    routing: RoutingSpec = Field(default_factory=RoutingSpec)
    explain: ExplainSpec = Field(default_factory=ExplainSpec)
    account: AccountSpec = Field(default_factory=AccountSpec)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    inactivity: InactivitySpec | None = None
    sla: SlaSpec | None = None
    # On by default: `rate_limit: null` turns it off.
    rate_limit: RateLimitSpec | None = Field(default_factory=RateLimitSpec)
    identity: IdentitySpec = Field(default_factory=IdentitySpec)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # `version: 3` or `version: 2026.05` in YAML is a number; the version is a label.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value
