"""Cheaper construction for the frozen dataclasses built for every scored event.

The `__init__` that `dataclass(frozen=True)` generates stores each field with
`object.__setattr__(self, name, value)` (the class's own `__setattr__` raises), a generic
attribute lookup per field. `fast_init` swaps in an `__init__` with the same parameters
and defaults that stores each field through its slot descriptor instead, which halves
the cost of building a `LeadState` or a `ScoreChange`. Nothing else changes: the class
stays the same frozen, slotted dataclass (eq, hash, repr, `dataclasses.replace`, field
metadata), and `inspect.signature` still reports the dataclass signature.

Like `dataclasses` itself, the `__init__` is generated from source once, at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast

T = TypeVar("T")


class _Missing:
    """Marks a parameter left to its default factory."""


def fast_init(cls: type[T]) -> type[T]:
    """Replace the generated `__init__` of a frozen, slotted dataclass (see module doc)."""
    params: Any = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__}: fast_init needs a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init does not run __post_init__")
    namespace: dict[str, object] = {"_fi_missing": _Missing}
    parameters = ["_fi_self"]
    body = []
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init needs positional init fields")
        namespace[f"_fi_set{i}"] = getattr(cls, f.name).__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"_fi_default{i}"] = f.default
            parameters.append(f"{f.name}=_fi_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_fi_factory{i}"] = f.default_factory
            parameters.append(f"{f.name}=_fi_missing")
            body.append(f"    if {f.name} is _fi_missing:\n        {f.name} = _fi_factory{i}()")
        else:
            parameters.append(f.name)
        body.append(f"    _fi_set{i}(_fi_self, {f.name})")
    source = f"def __init__({', '.join(parameters)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # noqa: S102 - generated from the field names, as dataclasses does
    init = cast("Callable[..., None]", namespace["__init__"])
    update_wrapper(init, cls.__init__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
