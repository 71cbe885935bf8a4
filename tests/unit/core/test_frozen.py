"""`fast_init` and `fast_new` keep a frozen dataclass exactly what it was, only cheaper
to build."""

from __future__ import annotations

import inspect
import pickle
from dataclasses import FrozenInstanceError, dataclass, field, replace

import pytest

from scorer.core import LeadState, LeadUpdate, Outcome, ScoreChange
from scorer.core.frozen import fast_init, fast_new
from tests.unit.core.builders import BASE_RULES


@fast_init
@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    size: int = 3
    tags: list[str] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    size: int = 3
    tags: list[str] = field(default_factory=list)
    note: str | None = None


def test_positional_keyword_and_default_arguments_work_as_before() -> None:
    assert Sample("a").size == 3
    assert Sample("a", 5, ["x"], "n") == Sample(name="a", size=5, tags=["x"], note="n")
    assert Sample(size=1, name="b").name == "b"
    first, second = Sample("a"), Sample("a")
    assert first.tags == []
    assert first.tags is not second.tags  # a fresh default each time
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("a", 1, [], None, "extra")  # type: ignore[call-arg]


def test_the_signature_is_the_dataclass_signature() -> None:
    assert str(inspect.signature(Sample)) == str(inspect.signature(Plain))


def test_instances_stay_frozen_comparable_replaceable_and_picklable() -> None:
    sample = Sample("a", 5, note="n")
    with pytest.raises(FrozenInstanceError):
        sample.size = 6  # type: ignore[misc]
    assert replace(sample, size=6) == Sample("a", 6, note="n")
    assert pickle.loads(pickle.dumps(sample)) == sample  # noqa: S301 - our own bytes
    assert repr(sample) == repr(Plain("a", 5, note="n")).replace("Plain", "Sample")


def test_fast_new_builds_what_the_class_builds() -> None:
    new_sample = fast_new(Sample)
    built = new_sample("a", 5, note="n")
    assert type(built) is Sample
    assert built == Sample("a", 5, note="n")
    assert new_sample(name="b", size=1) == Sample("b", 1)
    first, second = new_sample("a"), new_sample("a")
    assert first.tags == []
    assert first.tags is not second.tags  # a fresh default each time
    with pytest.raises(FrozenInstanceError):
        built.size = 6  # type: ignore[misc]
    assert replace(built, size=6) == Sample("a", 6, note="n")
    assert pickle.loads(pickle.dumps(built)) == built  # noqa: S301 - our own bytes
    assert repr(built) == repr(Sample("a", 5, note="n"))


class SubSample(Sample):
    """A subclass has another layout: `fast_init`'s `__init__` builds it the slower way."""

    __slots__ = ("extra",)


def test_a_subclass_instance_is_built_the_slower_way() -> None:
    sub = SubSample("a", 5)
    assert type(sub) is SubSample
    assert (sub.name, sub.size, sub.tags, sub.note) == ("a", 5, [], None)
    with pytest.raises(FrozenInstanceError):
        sub.size = 6  # type: ignore[misc]


def test_core_values_built_the_fast_way_equal_their_records() -> None:
    state = LeadState.new("L1", BASE_RULES)
    assert LeadState.from_record(state.to_record()) == state
    change = ScoreChange(
        "L1", "e1", "web.page", "v1", "web", 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 5.0, 5.0
    )
    assert ScoreChange.from_record(change.to_record()) == change
    assert LeadUpdate(state, Outcome.APPLIED).changes == ()


def test_only_frozen_slotted_dataclasses_without_post_init_are_accepted() -> None:
    @dataclass
    class Mutable:
        name: str

    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True)
    class PostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, NoSlots, PostInit):
        with pytest.raises(TypeError):
            fast_init(cls)
