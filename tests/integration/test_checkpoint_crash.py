"""kill -9 after the worker changed states in memory and before its checkpoint wrote
them: the restarted worker replays the events and reaches what `scorer score-file`
says about the same input file (stages, scores, grades, threshold alerts, none
published twice).

The first worker checkpoints only every 10 minutes, so when it is killed its states
are in memory only: the read model shows them, while the lead-state changelog is empty
and no input offset is committed (both checked before the kill). The events are
simulated with live timestamps, so the restart's backlog (topics read independently)
refuses none as late."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.rules import load_rules
from scorer.simulator import Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    assert_worker_serves_the_replay,
    committed_offsets,
    produce,
    read_topic,
    run,
    sample_oracle,
    scores_differing_from,
    wait_for,
    with_sales_answers,
)

pytestmark = pytest.mark.integration


def test_a_worker_killed_before_its_checkpoint_replays_to_the_score_file_result(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(partitions=4, checkpoint_interval_s=600)
    run(apply_topics(settings))
    rules = load_rules(settings.rules_file)
    population = Population(leads=60, accounts=8, hot_share=0.1, seed=11)
    simulated = list(simulate(population, time.time() - 100, duration_s=80, rate_per_s=8))
    events = with_sales_answers(simulated, rules)
    input_file = tmp_path / "events.jsonl"
    input_file.write_bytes(b"".join(orjson.dumps(e.value) + b"\n" for e in events))
    offline = sample_oracle(input_file, settings.rules_file)  # what score-file prints
    messages = [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in events]
    inputs = sorted({topic for topic, _, _ in messages})

    first = start_worker(settings, "first")
    run(produce(settings, messages))
    wait_for(lambda: first.events_handled() >= len(messages), 60, "every event handled")
    # The states changed in memory (the read model is staged from them) ...
    wait_for(
        lambda: not scores_differing_from(offline.replayed, rules, settings),
        30,
        "the first worker's read model to show every lead's and account's state",
    )
    # ... and no checkpoint has written them or let an input offset be committed.
    changelog = settings.model_copy(update={"topic_prefix": ""})
    lead_changelog = f"{settings.app_id}-lead-state-changelog"
    assert run(read_topic(changelog, lead_changelog)) == []
    assert run(committed_offsets(settings, inputs)) == {}
    first.process.kill()

    second = start_worker(settings.model_copy(update={"checkpoint_interval_s": 1.0}), "second")
    wait_for(lambda: second.events_handled() >= len(messages), 60, "the replay of every event")

    def published() -> list[str]:
        return [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]

    # Lead alerts are crossings of each lead's event-time trajectory, so exact; an MQA
    # fires when lead signals arrive, an order partitions do not fix (see README).
    expected = sorted(a for a in offline.expected_alerts if a.startswith("lead:"))
    assert expected, "the input produces lead alerts"

    def lead_alerts() -> list[str]:
        ids = [a for a in published() if a.startswith("lead:") and ":sla:" not in a]
        return ids if set(ids) >= set(expected) else []

    found = wait_for(lead_alerts, 30, "the lead alerts")
    assert sorted(found) == expected
    assert [a for a, n in Counter(published()).items() if n > 1] == []
    refused = [dict(m.headers) for m in run(read_topic(settings, contract.DEAD_LETTERS))]
    assert refused == []
    assert_worker_serves_the_replay(second, offline.replayed, offline.leads, rules)
    wait_for(
        lambda: not scores_differing_from(offline.replayed, rules, settings),
        30,
        "the read model to show the replayed states",
    )
    # The second worker checkpoints: its states reach the changelog, its offsets commit.
    wait_for(lambda: run(committed_offsets(settings, inputs)), 30, "a commit after a checkpoint")
    assert run(read_topic(changelog, lead_changelog))
    # A graceful stop checkpoints what Faust waits for instead of waiting for its timeout.
    stopping = time.monotonic()
    second.stop()
    assert time.monotonic() - stopping < 8, "the stop waited for unacknowledged events"
