"""Cheaper construction for the frozen dataclasses built for every scored event.

Kept as the one speed trick of the core because it pays: `bench/bench_core.py` (medians of
interleaved runs, 2026-12-05) gives 44.6 µs per event without it and 34.5 µs with it on
`LeadState`, `LeadUpdate`, `LeadSignal`, `ScoreChange`, `RecentIds` (and the alert and
action records), about a fifth of the core's time.

The `__init__` that `dataclass(frozen=True)` generates stores each field with
`object.__setattr__(self, name, value)` (the class's own `__setattr__` raises), a generic
attribute lookup per field. Storing through the slot descriptors' `__set__` is about
twice as fast, but still a C call through a method wrapper per field.

The fastest store CPython has is a plain `obj.field = value` on a class that keeps the
generic `__setattr__`: the interpreter specializes it into a direct slot write. So
`fast_init` gives each class a *twin*: a plain class with the very same `__slots__`
(hence the same memory layout). The new `__init__` switches the instance to the twin,
stores the fields with plain assignments and switches it back; CPython allows that
`__class__` assignment exactly between classes of identical layout. `fast_new(cls)`
returns a function with the same parameters that builds the instance as a twin and
turns it into a `cls` at the end, skipping the class call machinery as well (for the
few places that build one per event).

Nothing else changes: the class stays the same frozen, slotted dataclass (eq, hash,
repr, `dataclasses.replace`, pickling, field metadata), and `inspect.signature` still
reports the dataclass signature. A subclass instance (a different layout) is built the
slower way, through the slot descriptors.

Like `dataclasses` itself, the functions are generated from source once, at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

T = TypeVar("T")


class _Missing:
    """Marks a parameter left to its default factory."""


def _check(cls: type[object]) -> list[dataclasses.Field[Any]]:
    params: Any = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__}: fast_init needs a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init does not run __post_init__")
    fields = list(dataclasses.fields(cls))  # type: ignore[arg-type]
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init needs positional init fields")
    return fields


def _parameters(fields: list[dataclasses.Field[Any]], namespace: dict[str, object]) -> list[str]:
    """The parameter list of the dataclass `__init__` (defaults bound in `namespace`), and
    the default-factory calls, which `_source` puts first in the body."""
    parameters = []
    for i, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            namespace[f"_fi_default{i}"] = f.default
            parameters.append(f"{f.name}=_fi_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_fi_factory{i}"] = f.default_factory
            parameters.append(f"{f.name}=_fi_missing")
        else:
            parameters.append(f.name)
    return parameters


def _factories(fields: list[dataclasses.Field[Any]], indent: str) -> list[str]:
    return [
        f"{indent}if {f.name} is _fi_missing:\n{indent}    {f.name} = _fi_factory{i}()"
        for i, f in enumerate(fields)
        if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING
    ]


def _generate(
    cls: type[T], fields: list[dataclasses.Field[Any]], name: str, head: list[str], body: list[str]
) -> Callable[..., Any]:
    namespace: dict[str, object] = {
        "_fi_missing": _Missing,
        "_fi_cls": cls,
        "_fi_twin": _twin(cls),
        "_fi_new": object.__new__,
        # `self.__class__ = ...` would go through the frozen `__setattr__`, which raises.
        "_fi_set_class": object.__dict__["__class__"].__set__,
    }
    for i, f in enumerate(fields):
        namespace[f"_fi_set{i}"] = getattr(cls, f.name).__set__
    parameters = _parameters(fields, namespace)
    source = f"def {name}({', '.join([*head, *parameters])}):\n" + "\n".join(body)
    exec(source, namespace)  # noqa: S102 - generated from the field names, as dataclasses does
    return cast("Callable[..., Any]", namespace[name])


_TWINS: dict[type[object], type[object]] = {}


def _twin(cls: type[object]) -> type[object]:
    """A plain class with `cls`'s slots: the same layout, without the frozen setattr."""
    twin = _TWINS.get(cls)
    if twin is None:
        twin = type(f"_{cls.__name__}Twin", (), {"__slots__": cls.__slots__})  # type: ignore[attr-defined]
        _TWINS[cls] = twin
    return twin


def fast_init(cls: type[T]) -> type[T]:
    """Replace the generated `__init__` of a frozen, slotted dataclass (see module doc)."""
    fields = _check(cls)
    stores = [f"        _fi_self.{f.name} = {f.name}" for f in fields]
    slow = [f"        _fi_set{i}(_fi_self, {f.name})" for i, f in enumerate(fields)]
    body = [
        *_factories(fields, "    "),
        "    if _fi_self.__class__ is _fi_cls:",
        "        _fi_set_class(_fi_self, _fi_twin)",
        *stores,
        "        _fi_self.__class__ = _fi_cls",
        "    else:",
        *slow,
    ]
    init = _generate(cls, fields, "__init__", ["_fi_self"], body)
    update_wrapper(init, cls.__init__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def fast_new(cls: type[T]) -> type[T]:
    """A function with `cls`'s parameters that builds a `cls` instance without the class
    call (see module doc). Typed as the class itself, so that calls are checked against
    its signature; use it only to call it."""
    fields = _check(cls)
    body = [
        *_factories(fields, "    "),
        "    _fi_self = _fi_new(_fi_twin)",
        *[f"    _fi_self.{f.name} = {f.name}" for f in fields],
        "    _fi_self.__class__ = _fi_cls",
        "    return _fi_self",
    ]
    new = _generate(cls, fields, f"new_{cls.__name__}", [], body)
    return cast("type[T]", new)
