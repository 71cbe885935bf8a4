"""Field conditions shared by fit, engagement and buying-group role rules.

A condition is a conjunction of field tests; each test accepts a field when ANY of its
alternatives matches. Strings are compared after Unicode NFKC normalisation and case
folding (on both sides), because titles and URLs arrive in whatever case and width the
producer used: a full-width "CEO" equals "ceo", half-width katakana equal full-width.
Globs and substrings are compiled once, when the rules are built, so matching an event
costs a dict lookup and a regex call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import translate
from unicodedata import normalize

from scorer.core.events import FieldValue

# How many string values each field test remembers (a bound on memory, not on correctness).
SEEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class FieldTest:
    """Tests one field; an empty test (nothing set) only requires the field to be present."""

    name: str
    equals: tuple[FieldValue, ...] = ()
    globs: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    regex: str | None = None
    min: float | None = None
    max: float | None = None
    present: bool | None = None
    negate: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _folded: frozenset[object] = field(default=frozenset(), compare=False, repr=False)
    # String values seen lately -> whether they match `equals` or the patterns (the same
    # URLs, titles and asset types come back again and again; see `_string_hit`).
    _seen: dict[str, bool] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        field_name: str,
        *,
        equals: tuple[FieldValue, ...] = (),
        globs: tuple[str, ...] = (),
        contains: tuple[str, ...] = (),
        regex: str | None = None,
        min: float | None = None,
        max: float | None = None,
        present: bool | None = None,
        negate: bool = False,
    ) -> FieldTest:
        alternatives = [translate(normalized(g)) for g in globs]
        alternatives += [".*" + re.escape(normalized(c)) + ".*" for c in contains]
        if regex is not None:
            # A regex searches anywhere in the value, as marketing ops expect from "contains".
            alternatives.append(f".*(?:{regex}).*")
        pattern = (
            re.compile("|".join(f"(?:{a})" for a in alternatives), re.S | re.I)
            if (alternatives)
            else None
        )
        folded = frozenset(_fold(v) for v in equals)
        return cls(
            name=field_name,
            equals=equals,
            globs=globs,
            contains=contains,
            regex=regex,
            min=min,
            max=max,
            present=present,
            negate=negate,
            _pattern=pattern,
            _folded=folded,
        )

    def matches(self, fields: Mapping[str, FieldValue]) -> bool:
        value = fields.get(self.name)
        if value is None:
            return (self.present is False) != self.negate
        if self.present is False:
            return self.negate
        # The value must match one of `equals` / the patterns (if any) and lie in min..max.
        folded = self._folded
        pattern = self._pattern
        if folded or pattern is not None:
            if isinstance(value, str):
                hit = self._seen.get(value)
                if hit is None:
                    hit = self._string_hit(value)
            else:
                hit = _fold(value) in folded
            if not hit:
                return self.negate
        if self.min is None and self.max is None:
            return not self.negate
        return self._in_range(value) != self.negate

    def _string_hit(self, value: str) -> bool:
        """Whether a string value is among `equals` (case-insensitively) or matches a
        glob, substring or regex; remembered for the next events (at most SEEN_LIMIT)."""
        text = normalized(value)
        if self._folded and text in self._folded:
            hit = True
        else:
            hit = self._pattern is not None and self._pattern.fullmatch(text) is not None
        seen = self._seen
        if len(seen) >= SEEN_LIMIT:
            seen.clear()
        seen[value] = hit
        return hit

    def _in_range(self, value: str | int | float | bool) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


def normalized(text: str) -> str:
    """How strings compare: NFKC (full-width letters and digits, half-width katakana)
    then case folding."""
    return normalize("NFKC", text).casefold()


def _fold(value: FieldValue) -> object:
    # bool is an int subclass: keep True distinct from 1 so `budget: true` never matches 1.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return normalized(value)
    return value


@dataclass(frozen=True, slots=True)
class Condition:
    """`all_of` tests must all pass, and at least one `any_of` group must pass (if any)."""

    all_of: tuple[FieldTest, ...] = ()
    any_of: tuple[tuple[FieldTest, ...], ...] = ()

    def matches(self, fields: Mapping[str, FieldValue]) -> bool:
        for test in self.all_of:
            if not test.matches(fields):
                return False
        if not self.any_of:
            return True
        for group in self.any_of:
            for test in group:
                if not test.matches(fields):
                    break
            else:
                return True
        return False

    def matcher(self) -> Callable[[Mapping[str, FieldValue]], bool]:
        """The cheapest callable equivalent to `matches` (a single field test's own)."""
        if len(self.all_of) == 1 and not self.any_of:
            return self.all_of[0].matches
        return self.matches


ALWAYS = Condition()
