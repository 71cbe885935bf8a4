"""Two workers in one consumer group share the partitions and together score every event
once. (A member leaving is tested on real Kafka only: see test_failover_on_kafka.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.core import replay
from scorer.devstack import free_port
from scorer.rules import load_rules
from scorer.simulator import Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    describe_score_differences,
    produce,
    read_topic,
    run,
    scores_differing_from,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_two_workers_share_partitions_and_score_every_event_once(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(partitions=4)
    run(apply_topics(settings))
    rules = load_rules(settings.rules_file)
    population = Population(leads=100, accounts=10, hot_share=0.08, seed=21)
    events = list(simulate(population, time.time() - 150, duration_s=120, rate_per_s=8))
    oracle = replay([parse_event(orjson.dumps(e.value)) for e in events], rules)

    first = start_worker(settings, "first")
    second = start_worker(settings.model_copy(update={"web_port": free_port()}), "second")
    workers = [first, second]
    wait_for(
        lambda: all(w.metric("scorer_assigned_partitions") > 0 for w in workers),
        90, "both workers to own partitions",
    )  # fmt: skip
    run(produce(settings, [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in events]))

    applied = len(events) - len(oracle.rejected)
    wait_for(
        lambda: sum(w.metric("scorer_events_total", result="applied") for w in workers) >= applied,
        90, "every event scored",
    )  # fmt: skip
    assert sum(w.metric("scorer_events_total", result="applied") for w in workers) == applied
    assert all(w.metric("scorer_events_total", result="applied") > 0 for w in workers), (
        "both worked"
    )

    _assert_matches_replay(settings, oracle, rules, workers)


def _assert_matches_replay(
    settings: Any,
    oracle: Any,
    rules: Any,
    workers: list[WorkerProcess],
    deadline_s: float = 30,
) -> None:
    expected = {a for a in oracle.alert_ids() if a.startswith("lead:")}

    def lead_alerts() -> set[str]:
        messages = run(read_topic(settings, contract.HANDOFF_ALERTS))
        return {a for m in messages if (a := orjson.loads(m.value)["alert_id"]).startswith("lead:")}

    assert (
        wait_for(lambda: (found := lead_alerts()) >= expected and found, deadline_s, "lead alerts")
        == expected
    )
    try:
        wait_for(
            lambda: not scores_differing_from(oracle, rules, settings),
            30,
            "every score to equal the replay",
        )
    except AssertionError as exc:
        details = f"{exc}\n{describe_score_differences(oracle, rules, settings, workers)}"
        # Beside the worker logs too, where whoever reads them after a CI run looks.
        (workers[0].log_path.parent / "score-differences.txt").write_text(details)
        raise AssertionError(details) from None


def test_when_a_worker_leaves_the_other_takes_over_its_partitions(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(partitions=4)
    run(apply_topics(settings))
    rules = load_rules(settings.rules_file)
    population = Population(leads=100, accounts=10, hot_share=0.08, seed=22)
    events = list(simulate(population, time.time() - 150, duration_s=120, rate_per_s=8))
    oracle = replay([parse_event(orjson.dumps(e.value)) for e in events], rules)
    messages = [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in events]
    half = len(messages) // 2

    staying = start_worker(settings, "staying")
    leaving = start_worker(settings.model_copy(update={"web_port": free_port()}), "leaving")
    wait_for(
        lambda: staying.metric("scorer_assigned_partitions") > 0
        and leaving.metric("scorer_assigned_partitions") > 0,
        90, "both workers to own partitions",
    )  # fmt: skip
    run(produce(settings, messages[:half]))
    wait_for(
        lambda: leaving.metric("scorer_events_total", result="applied") > 0, 60, "both working"
    )
    leaving.stop()
    run(produce(settings, messages[half:]))
    # Tansu reassigns the leaver's partitions only after its session times out (4 s here).
    _assert_matches_replay(settings, oracle, rules, [staying, leaving], deadline_s=90)
    # The takeover must not have needed the stall guard (see test_crash_recovery.py).
    assert staying.metric("scorer_stalled_partitions_total") == 0
    assert staying.process.exit_code() is None
