"""`load_rules(path)`: read, validate and convert a rules file into `scorer.core.Rules`.

Every problem is reported as one line `FILE:LINE: dotted.path[3].field: message`, all
problems at once, so marketing ops can fix a file in one pass.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from scorer.core.conditions import Condition, FieldTest
from scorer.core.events import EventKind
from scorer.core.rules import (
    DEFAULT_ALERT_STAGES,
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
from scorer.rules.schema import (
    ConditionMap,
    ConditionSpec,
    FieldTestSpec,
    RulesFileSpec,
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


def load_rules(path: str | Path) -> Rules:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{file}: cannot read rules file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise RulesError([f"{file}: rules file is not UTF-8: {exc.reason}"]) from exc
    return parse_rules(text, str(file))


def parse_rules(text: str, source: str = "<rules>") -> Rules:
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
    return _to_core(spec)


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
    return _rule_checks(spec) + _threshold_checks(spec)


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
                cooldown=t.cooldown,
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
        ),
        routing=Routing(
            default_team=spec.routing.default_team,
            by_product=MappingProxyType(dict(spec.routing.by_product)),
        ),
        timing=Timing(
            allowed_lateness=spec.timing.allowed_lateness,
            future_skew=spec.timing.future_skew,
            alert_hold=spec.timing.alert_hold,
            max_open_events=spec.timing.max_open_events,
        ),
        explain=Explain(
            last_changes=spec.explain.last_changes,
            top_reasons=spec.explain.top_reasons,
            recent_event_ids=spec.explain.recent_event_ids,
        ),
        account=AccountRules(
            aggregate=AccountAggregate(spec.account.aggregate),
            top_n=spec.account.top_n,
            engaged_window=spec.account.engaged_contact.window,
            engaged_min_points=spec.account.engaged_contact.min_points,
            roles=tuple(
                BuyingRole(name, _condition(role)) for name, role in spec.account.roles.items()
            ),
            role_points=spec.account.role_points,
            thresholds=tuple(
                AccountThreshold(
                    name=t.name,
                    value=t.value,
                    rearm_below=t.rearm_below,
                    cooldown=t.cooldown,
                    min_engaged_contacts=t.min_engaged_contacts,
                    min_roles=t.min_roles,
                )
                for t in spec.account.thresholds
            ),
            last_alert_contacts=spec.account.alert_contacts,
        ),
    )
