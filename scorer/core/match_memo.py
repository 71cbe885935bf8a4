"""Matching an event's fields against many compiled conditions at once, memoised by the
values of the fields the conditions read (the compiled lookup behind award plans, fit
rules, buying roles and scenario triggers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from scorer.core.conditions import Condition
from scorer.core.events import FieldValue

Matcher = Callable[[Mapping[str, FieldValue]], bool]

T = TypeVar("T")

# The value types a `MatchMemo` key holds as they are (see `MatchMemo._remember`).
_PLAIN = frozenset({str, type(None)})

# How many distinct field-value combinations a `MatchMemo` remembers the answer for (a
# bound on memory, not on correctness).
MEMO_LIMIT = 4096


class MatchMemo(Generic[T]):
    """Items, each with the condition some fields must meet for it (an event kind's
    award plans, the scenarios its events trigger or cancel, the fit rules, the buying
    roles), matched with the answers remembered.

    Whether a condition holds depends only on the values of the fields it names (a
    missing field reads as None), so the matching items are a function of those values.
    The same few URLs, asset types, titles and form ids come back again and again, so
    the answer is remembered per combination of values (at most `MEMO_LIMIT`). Values
    that are all strings or missing are their own key; others are keyed with their
    types, since `1`, `1.0` and `True` are equal dict keys but do not match alike.
    """

    __slots__ = ("_memo", "_single", "entries", "groups", "names")

    def __init__(
        self,
        entries: tuple[tuple[T, Matcher | None, Condition], ...],
        groups: tuple[str | None, ...] | None = None,
    ) -> None:
        self.entries = entries
        # Per entry, its exclusive group (None: not exclusive); of the matching entries
        # of one group only the first is kept. None: no entry is exclusive.
        self.groups = groups if groups is not None and any(groups) else None
        names: set[str] = set()
        for _, matcher, condition in entries:
            if matcher is not None:
                names.update(_field_names(condition))
        self.names = tuple(sorted(names))
        # With one field the key is its value itself (no tuple to build, hash and compare).
        self._single = self.names[0] if len(self.names) == 1 else None
        self._memo: dict[object, tuple[T, ...]] = {}

    def matching(self, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        """The items whose condition `fields` meet, in order (what `evaluate` returns)."""
        single = self._single
        key = fields.get(single) if single is not None else tuple(map(fields.get, self.names))
        # Keys are stored as they are only when they hold nothing but strings and Nones
        # (see `_remember`), and only a string or None equals one of those: a key found as
        # it is has the same values.
        try:
            hit = self._memo.get(key)
        except TypeError:  # an unhashable value (not a FieldValue): no memo for it
            return self.evaluate(fields)
        if hit is not None:
            return hit
        return self._remember(key, fields)

    def _remember(self, key: object, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        values = (key,) if self._single is not None else key
        assert isinstance(values, tuple)  # noqa: S101 - built by `matching`
        types = tuple(map(type, values))
        if not _PLAIN.issuperset(types):
            key = (values, types)  # a tuple of two tuples: never equal to a plain key
            hit = self._memo.get(key)
            if hit is not None:
                return hit
        matched = self.evaluate(fields)
        memo = self._memo
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = matched
        return matched

    def evaluate(self, fields: Mapping[str, FieldValue]) -> tuple[T, ...]:
        """The items whose condition `fields` meet, in order, without the memo."""
        groups = self.groups
        if groups is None:
            return tuple(
                [item for item, match, _ in self.entries if match is None or match(fields)]
            )
        taken: set[str] = set()
        matched: list[T] = []
        for (item, match, _), group in zip(self.entries, groups, strict=True):
            if group in taken or not (match is None or match(fields)):
                continue
            if group is not None:
                taken.add(group)
            matched.append(item)
        return tuple(matched)


def _field_names(condition: Condition) -> set[str]:
    names = {test.name for test in condition.all_of}
    for group in condition.any_of:
        names.update(test.name for test in group)
    return names
