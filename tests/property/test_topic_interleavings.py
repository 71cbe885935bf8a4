"""Any interleaving of the input topics (each topic's own order kept, as Kafka keeps a
partition's) gives the stages, lead alerts and scenario actions of the file order, and
refuses no event the file order accepts: sales feedback waits for the hand-off it
answers, and scenario conditions read the stage as of the trigger (issue 17)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.core import Event
from scorer.replay_file import read_events
from tests.unit.core.test_feedback_order import SCENARIOS, TOPICS, WIDE, _backlog, _file_order

EVENTS = read_events(SCENARIOS)[0]
UNTIL = max(e.occurred_at for e in EVENTS)
EXPECTED = _file_order(EVENTS, WIDE, UNTIL)


def _interleaving(picks: list[int]) -> list[Event]:
    streams = [[e for e in EVENTS if e.kind.category == topic] for topic in TOPICS]
    out: list[Event] = []
    for pick in picks:
        waiting = [s for s in streams if s]
        out.append(waiting[pick % len(waiting)].pop(0))
    for stream in streams:
        out.extend(stream)
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=len(EVENTS), max_size=len(EVENTS)))
def test_any_topic_interleaving_equals_the_file_order(picks: list[int]) -> None:
    assert _backlog(_interleaving(picks), WIDE, UNTIL) == EXPECTED
