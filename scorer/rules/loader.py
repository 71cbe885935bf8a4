"""`load_rules(path)`: read, validate and convert a rules file into `scorer.core.Rules`.

Every problem is reported as one line `FILE:LINE: dotted.path[3].field: message`, all
problems at once, so marketing ops can fix a file in one pass.

`time_scale` multiplies the hand-off loop's durations (scenario delays and cooldowns,
the inactivity period, SLA deadlines, the lost cool-off) and nothing else, so a test or
a demo can run "2 days later" in 2 seconds (time_scale=1/86400) with the same scoring.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from scorer.core.conditions import Condition, FieldTest
from scorer.core.events import EventKind
from scorer.core.identity import IdentityPolicy
from scorer.core.rules import (
    DEFAULT_ALERT_STAGES,
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
from scorer.rules.schema import (
    ActionSpec,
    ConditionMap,
    ConditionSpec,
    FieldTestSpec,
    RulesFileSpec,
    ScenarioSpec,
    ScoreTestSpec,
)
from scorer.rules.yaml_lines import Path as YamlPath
from scorer.rules.yaml_lines import YamlProblem, line_of, load_with_lines


class RulesError(Exception):
    """One or more problems in a rules file; str() gives one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def load_rules(path: str | Path, time_scale: float = 1.0) -> Rules:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{file}: cannot read rules file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise RulesError([f"{file}: rules file is not UTF-8: {exc.reason}"]) from exc
    return parse_rules(text, str(file), time_scale)


def parse_rules(text: str, source: str = "<rules>", time_scale: float = 1.0) -> Rules:
    if not time_scale > 0:
        raise RulesError([f"{source}: time scale must be positive, got {time_scale}"])
    try:
        data, lines = load_with_lines(text)
    except YamlProblem as exc:
        where = f"{source}:{exc.line}" if exc.line is not None else source
        raise RulesError([f"{where}: {exc.message}"]) from exc
    if not isinstance(data, dict):
        raise RulesError([f"{source}:1: the rules file must be a mapping with a 'version'"])
    try:
        spec = RulesFileSpec.model_validate(data)
    except ValidationError as exc:
        raise RulesError(_validation_problems(exc, lines, source)) from exc
    problems = [
        f"{_where(source, lines, path)}: {format_path(path)}: {message}"
        for path, message in _cross_checks(spec)
    ]
    if problems:
        raise RulesError(problems)
    return with_time_scale(_to_core(spec), time_scale)


def _where(source: str, lines: dict[YamlPath, int], path: YamlPath) -> str:
    line = line_of(lines, path)
    return f"{source}:{line}" if line is not None else source


def _validation_problems(
    exc: ValidationError, lines: dict[YamlPath, int], source: str
) -> list[str]:
    problems = []
    seen = set()
    for error in exc.errors():
        path = _yaml_path(error["loc"])
        if error["type"] == "extra_forbidden":
            message = "unknown field" + _suggestion(path)
        elif error["type"] == "missing":
            message = "required field is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
        text = f"{_where(source, lines, path)}: {format_path(path) or '(top level)'}: {message}"
        if text not in seen:
            seen.add(text)
            problems.append(text)
    return problems


def _yaml_path(loc: tuple[int | str, ...]) -> YamlPath:
    # pydantic inserts validator names (e.g. "function-before[...]") for annotated types
    # and union branches; they are not part of the file's structure.
    return tuple(
        part
        for part in loc
        if isinstance(part, int) or not ("[" in part and "]" in part and "(" not in part)
    )


def _suggestion(path: YamlPath) -> str:
    if not path or not isinstance(path[-1], str):
        return ""
    model = _model_at(RulesFileSpec, path[:-1])
    if model is None:
        return ""
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    close = difflib.get_close_matches(path[-1], names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(names)})"


def _model_at(model: type[BaseModel], path: YamlPath) -> type[BaseModel] | None:
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str):
                return None
            field = current.model_fields.get(part)
            if field is None:
                by_alias = [f for f in current.model_fields.values() if f.alias == part]
                if not by_alias:
                    return None
                field = by_alias[0]
            current = field.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, tuple) and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _cross_checks(spec: RulesFileSpec) -> list[tuple[YamlPath, str]]:
    return (
        _rule_checks(spec) + _threshold_checks(spec) + _scenario_checks(spec) + _role_checks(spec)
    )


def _role_checks(spec: RulesFileSpec) -> list[tuple[YamlPath, str]]:
    order = spec.account.role_precedence
    if order is None:
        return []
    path: YamlPath = ("account", "role_precedence")
    roles = list(spec.account.roles)
    unknown = [name for name in order if name not in roles]
    if unknown:
        return [(path, f"unknown role {unknown[0]!r} (roles: {', '.join(roles)})")]
    repeated = sorted({name for name in order if order.count(name) > 1})
    if repeated:
        return [(path, f"role {repeated[0]!r} is listed twice")]
    missing = [name for name in roles if name not in order]
    if missing:
        return [(path, f"name every role once; missing: {', '.join(missing)}")]
    return []


def _roles_in_precedence(spec: RulesFileSpec) -> tuple[BuyingRole, ...]:
    roles = spec.account.roles
    order = spec.account.role_precedence or list(roles)
    return tuple(BuyingRole(name, _condition(roles[name])) for name in order)


def _scenario_checks(spec: RulesFileSpec) -> list[tuple[YamlPath, str]]:
    problems: list[tuple[YamlPath, str]] = []
    ids: set[str] = set()
    for i, scenario in enumerate(spec.scenarios):
        if scenario.id in ids:
            problems.append((("scenarios", i, "id"), f"duplicate scenario id {scenario.id!r}"))
        ids.add(scenario.id)
        if scenario.trigger.went_cold and spec.inactivity is None:
            problems.append(
                (
                    ("scenarios", i, "trigger", "went_cold"),
                    "went_cold needs an inactivity period (add inactivity: {after: 90d})",
                )
            )
        seen: dict[str, int] = {}
        for j, action in enumerate(scenario.actions):
            for kind in action.kinds():
                if kind in seen:
                    problems.append(
                        (
                            ("scenarios", i, "actions", j, kind),
                            f"a scenario has one {kind} action (actions[{seen[kind]}] is one); "
                            "split it into two scenarios",
                        )
                    )
                seen.setdefault(kind, j)
    return problems


def _rule_checks(spec: RulesFileSpec) -> list[tuple[YamlPath, str]]:
    problems: list[tuple[YamlPath, str]] = []
    categories = set(spec.categories)
    seen_ids: dict[str, YamlPath] = {}
    for i, fit_rule in enumerate(spec.fit.rules):
        path: YamlPath = ("fit", "rules", i, "id")
        if fit_rule.id in seen_ids:
            problems.append((path, f"duplicate rule id {fit_rule.id!r}"))
        seen_ids[fit_rule.id] = path
    for i, rule in enumerate(spec.engagement.rules):
        path = ("engagement", "rules", i, "id")
        if rule.id in seen_ids:
            problems.append((path, f"duplicate rule id {rule.id!r}"))
        seen_ids[rule.id] = path
        if rule.category is not None:
            if rule.category not in categories:
                problems.append(
                    (
                        ("engagement", "rules", i, "category"),
                        f"unknown category {rule.category!r} (defined: {', '.join(categories)})",
                    )
                )
        else:
            for kind in rule.on:
                needed = EventKind(kind).category
                if needed not in categories:
                    problems.append(
                        (
                            ("engagement", "rules", i, "on"),
                            f"events of type {kind} need a category {needed!r} "
                            "(define it under categories, or set category on the rule)",
                        )
                    )
    return problems


def _threshold_checks(spec: RulesFileSpec) -> list[tuple[YamlPath, str]]:
    problems: list[tuple[YamlPath, str]] = []
    names: set[str] = set()
    for i, threshold in enumerate(spec.thresholds):
        if threshold.name in names:
            problems.append((("thresholds", i, "name"), f"duplicate threshold {threshold.name!r}"))
        names.add(threshold.name)
    account_names: set[str] = set()
    for i, account_threshold in enumerate(spec.account.thresholds):
        if account_threshold.name in account_names:
            problems.append(
                (
                    ("account", "thresholds", i, "name"),
                    f"duplicate threshold {account_threshold.name!r}",
                )
            )
        account_names.add(account_threshold.name)
    return problems


def _field_test(name: str, spec: FieldTestSpec) -> FieldTest:
    return FieldTest.create(
        name,
        equals=tuple(spec.equals),
        globs=tuple(spec.glob),
        contains=tuple(spec.contains),
        regex=spec.regex,
        min=spec.min,
        max=spec.max,
        present=spec.present,
        negate=spec.negate,
    )


def _condition_map(tests: ConditionMap) -> tuple[FieldTest, ...]:
    return tuple(_field_test(name, spec) for name, spec in tests.items())


def _condition(spec: ConditionSpec) -> Condition:
    return Condition(
        all_of=_condition_map(spec.when),
        any_of=tuple(_condition_map(group) for group in spec.any),
    )


def _to_core(spec: RulesFileSpec) -> Rules:
    recycle = spec.lifecycle.recycle
    factor = {"reset": 0.0, "keep": 1.0}.get(recycle.engagement, recycle.factor or 0.0)
    return Rules(
        version=spec.version,
        description=spec.description,
        time_zone=spec.time_zone,
        categories=tuple(Category(name, c.half_life) for name, c in spec.categories.items()),
        fit=tuple(
            FitRule(
                id=r.id,
                points=r.points,
                when=_condition(r),
                label=r.label,
                level=FitLevel(r.level),
            )
            for r in spec.fit.rules
        ),
        engagement=tuple(
            EngagementRule(
                id=r.id,
                on=frozenset(EventKind(k) for k in r.on),
                points=r.points,
                when=_condition(r),
                label=r.label,
                category=r.category,
                cap=Cap(r.cap.points, r.cap.window) if r.cap is not None else None,
                once=r.once,
                exclusive=r.exclusive,
            )
            for r in spec.engagement.rules
        ),
        grades=GradeBands(
            fit=tuple(spec.grades.fit.items()),
            fallback_fit=spec.grades.fit_fallback,
            engagement=tuple(spec.grades.engagement.items()),
            fallback_engagement=spec.grades.engagement_fallback,
        ),
        thresholds=tuple(
            Threshold(
                name=t.name,
                value=t.value,
                rearm_below=t.rearm_below,
                cooldown_s=t.cooldown,
                basis=ScoreBasis(t.basis),
                moves_to=Stage(t.moves_to) if t.moves_to is not None else None,
                alert_in_stages=(
                    frozenset(Stage(s) for s in t.alert_in_stages)
                    if t.alert_in_stages is not None
                    else DEFAULT_ALERT_STAGES
                ),
                rearm_on_recycle=t.rearm_on_recycle,
            )
            for t in spec.thresholds
        ),
        lifecycle=Lifecycle(
            engaged_min_points=spec.lifecycle.engaged_min_points,
            recycle_factor=factor,
            recycle_lost=spec.lifecycle.recycle_lost,
            disqualify_reasons=frozenset(r.casefold() for r in spec.lifecycle.disqualify_reasons),
            lost_cool_off_s=spec.lifecycle.lost_cool_off,
        ),
        routing=Routing(
            default_team=spec.routing.default_team,
            by_product=MappingProxyType(dict(spec.routing.by_product)),
            rules=tuple(
                RoutingRule(team=r.team, products=frozenset(r.product), when=_condition(r))
                for r in spec.routing.rules
            ),
        ),
        timing=Timing(
            allowed_lateness_s=spec.timing.allowed_lateness.default,
            lateness_s_by_kind=MappingProxyType(spec.timing.allowed_lateness.by_kind()),
            future_skew_s=spec.timing.future_skew,
            alert_hold_s=spec.timing.alert_hold,
            max_open_events=spec.timing.max_open_events,
            max_open_profile_fields=spec.timing.max_open_profile_fields,
            max_age_s=spec.timing.max_age,
        ),
        explain=Explain(
            last_changes=spec.explain.last_changes,
            top_reasons=spec.explain.top_reasons,
            recent_event_ids=spec.explain.recent_event_ids,
        ),
        account=AccountRules(
            aggregate=AccountAggregate(spec.account.aggregate),
            top_n=spec.account.top_n,
            engaged_window_s=spec.account.engaged_contact.window,
            engaged_min_points=spec.account.engaged_contact.min_points,
            roles=_roles_in_precedence(spec),
            role_points=spec.account.role_points,
            thresholds=tuple(
                AccountThreshold(
                    name=t.name,
                    value=t.value,
                    rearm_below=t.rearm_below,
                    cooldown_s=t.cooldown,
                    min_engaged_contacts=t.min_engaged_contacts,
                    min_roles=t.min_roles,
                )
                for t in spec.account.thresholds
            ),
            last_alert_contacts=spec.account.alert_contacts,
        ),
        scenarios=tuple(_scenario(s) for s in spec.scenarios),
        inactivity=(
            Inactivity(
                after_s=spec.inactivity.after,
                activity=frozenset(EventKind(k) for k in spec.inactivity.activity),
            )
            if spec.inactivity is not None
            else None
        ),
        sla=(
            Sla(spec.sla.follow_up, MappingProxyType(dict(spec.sla.by_team)))
            if spec.sla is not None
            else None
        ),
        identity=IdentityPolicy(spec.identity.lookback, spec.identity.max_events),
        rate_limit=(
            RateLimit(spec.rate_limit.max_events, spec.rate_limit.per)
            if spec.rate_limit is not None
            else None
        ),
    )


def _state_check(stages: Sequence[str] | None, score: ScoreTestSpec | None) -> StateCheck:
    return StateCheck(
        stages=frozenset(Stage(s) for s in stages) if stages is not None else None,
        min_score=score.min if score is not None else None,
        max_score=score.max if score is not None else None,
        basis=ScoreBasis(score.basis) if score is not None else ScoreBasis.TOTAL,
    )


def _action(spec: ActionSpec) -> ScenarioAction:
    (kind,) = spec.kinds()
    settings = getattr(spec, kind)
    params = {k: v for k, v in settings.model_dump().items() if v is not None}
    return ScenarioAction(ActionKind(kind), MappingProxyType(params))


def _scenario(spec: ScenarioSpec) -> Scenario:
    trigger = spec.trigger
    event = None
    state = None
    if trigger.event is not None:
        kind = TriggerKind.EVENT
        event = EventMatch(frozenset(EventKind(k) for k in trigger.event), _condition(trigger))
    elif trigger.went_cold:
        kind = TriggerKind.WENT_COLD
    else:
        kind = TriggerKind.STATE
        state = _state_check(trigger.stage, trigger.score)
    require = spec.require
    return Scenario(
        id=spec.id,
        trigger=kind,
        actions=tuple(_action(a) for a in spec.actions),
        event=event,
        state=state,
        delay_s=spec.delay,
        unless=tuple(
            EventMatch(frozenset(EventKind(k) for k in u.event), _condition(u)) for u in spec.unless
        ),
        require=_state_check(require.stage, require.score) if require is not None else None,
        cooldown_s=spec.period(),
        label=spec.label,
        repeat=Repeat.ONCE if spec.repeat == "once" else Repeat.ONCE_PER_CYCLE,
    )
