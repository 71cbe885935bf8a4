"""kill -9 after the worker changed states in memory and before its checkpoint wrote
them: the restarted worker replays the events and reaches what `scorer score-file`
says about the same input file (stages, scores, grades, threshold alerts, none
published twice).

The first worker checkpoints only every 10 minutes, so when it is killed its states
are in memory only: the read model shows them, while the lead-state changelog is empty
and no input offset is committed (both checked before the kill). The events are
simulated with live timestamps, so the restart's backlog (topics read independently)
refuses none as late.

The dated sample (tests/data/) is replayed too: its last line is an `email.open` of
`ito` 8h before the lead's web events, over the 6h lateness. `score-file` reads it last
and refuses it; a worker reading the sample as a backlog reads the email topic
independently of the web topic, so it accepts the open when it reads it before them
(README, Late data by source). Which one happens varies from run to run, so the worker
is compared with `score-file` on the order it read: the file as it is when the open was
refused, the file with the open before the lead's other events when it was counted. Both
workers start on the whole backlog; their timers fire by the wall clock (December) once
it is scored, so a held feedback judged by the wall clock before its lead's activity was
scored would jump the lead to its stage and lose its alerts (tanaka's warm and MQL)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.replay_file import replay_file
from scorer.rules import load_rules
from scorer.simulator import TOPIC_BY_CATEGORY, Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import (
    SampleOracle,
    WorkerProcess,
    assert_worker_serves_the_replay,
    committed_offsets,
    http_get,
    produce,
    read_topic,
    rules_for_dated_files,
    run,
    sample_oracle,
    scores_differing_from,
    wait_for,
    with_sales_answers,
)

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "sample-events.jsonl"
LATE_OPEN = "globex-09"  # ito's email.open, 8h before ito's web events, last in the file


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


def test_a_dated_backlog_replayed_after_a_kill_is_scored_as_read(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(
        partitions=4, checkpoint_interval_s=600, rules_file=rules_for_dated_files(tmp_path)
    )
    run(apply_topics(settings))
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    refused = sample_oracle(SAMPLE, settings.rules_file)
    rules = refused.rules
    offline = [orjson.loads(r) for r in replay_file(SAMPLE, settings.rules_file)]
    assert [(r["event_id"], r["outcome"]) for r in offline if r["type"] == "rejected"] == [
        ("globex-04", "duplicate"),
        (LATE_OPEN, "too_late"),
    ], "the sample's only late event is the email open (and one duplicate)"
    late = [line for line in lines if orjson.loads(line)["event_id"] == LATE_OPEN]
    others = [line for line in lines if line not in late]
    first_of_ito = next(
        i for i, line in enumerate(others) if orjson.loads(line)["lead_id"] == "ito"
    )
    in_time = tmp_path / "sample-open-first.jsonl"
    in_time.write_text("\n".join(others[:first_of_ito] + late + others[first_of_ito:]) + "\n")
    counted = sample_oracle(in_time, settings.rules_file)
    assert counted.leads["ito"]["total"] != refused.leads["ito"]["total"]
    assert sorted(counted.expected_alerts) == sorted(refused.expected_alerts)
    expected = sorted(a for a in refused.expected_alerts if a.startswith("lead:"))

    def as_read(worker: WorkerProcess) -> SampleOracle:
        """score-file on the order the worker read: did it count the late open?"""
        served = wait_for(
            lambda: (r := http_get(f"{worker.base_url}/leads/ito"))[0] == 200 and r[1],
            30,
            "ito's state served",
        )
        return counted if "email.open" in orjson.loads(served)["contributions"] else refused

    def check(worker: WorkerProcess, account: SampleOracle) -> SampleOracle:
        """The worker's leads equal score-file on the order it read; the accounts equal
        `account`'s (an account keeps the lead signal with the higher sequence number)."""

        def settled() -> SampleOracle | None:
            # The last batch's states are served a moment after its events are counted.
            oracle = as_read(worker)
            try:
                assert_worker_serves_the_replay(worker, oracle.replayed, oracle.leads, rules)
            except AssertionError:
                return None
            return oracle

        try:
            oracle = wait_for(settled, 10, "the leads scored in the order read")
        except AssertionError:
            oracle = as_read(worker)  # for the lead that differs and how
            assert_worker_serves_the_replay(worker, oracle.replayed, oracle.leads, rules)
            raise
        expected = SimpleNamespace(leads=oracle.replayed.leads, accounts=account.replayed.accounts)
        wait_for(
            lambda: not scores_differing_from(expected, rules, settings),
            30,
            "the read model to show the states scored in the order read",
        )
        return oracle

    # The whole sample waits in the topics before the first worker starts: a first
    # start on retained input reads the same kind of backlog as the restart below.
    messages = []
    for line in lines:
        event = orjson.loads(line)
        topic = TOPIC_BY_CATEGORY[event["type"].partition(".")[0]]
        messages.append((topic, event["lead_id"].encode(), line.encode()))
    run(produce(settings, messages))
    inputs = sorted({topic for topic, _, _ in messages})
    first = start_worker(settings, "first")
    wait_for(lambda: first.events_handled() >= len(messages), 60, "every event handled")
    first_read = check(first, as_read(first))
    changelog = settings.model_copy(update={"topic_prefix": ""})
    assert run(read_topic(changelog, f"{settings.app_id}-lead-state-changelog")) == []
    assert run(committed_offsets(settings, inputs)) == {}
    first.process.kill()

    second = start_worker(settings.model_copy(update={"checkpoint_interval_s": 1.0}), "second")
    wait_for(lambda: second.events_handled() >= len(messages), 60, "the replay of every event")
    # The first worker's lead signals are on the account topic, replayed with the rest:
    # one that counted the open (one applied event more) outlives the second's for ito.
    either_counted = counted is first_read or counted is as_read(second)
    check(second, counted if either_counted else refused)

    def lead_alerts() -> list[str]:
        ids = [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]
        ids = [a for a in ids if a.startswith("lead:") and ":sla:" not in a]
        return ids if set(ids) >= set(expected) else []

    assert sorted(wait_for(lead_alerts, 30, "the lead alerts")) == expected
    email = settings.topic(TOPIC_BY_CATEGORY["email"])
    letters = [dict(m.headers) for m in run(read_topic(settings, contract.DEAD_LETTERS))]
    # Only the late open is ever refused (by either worker), and only as too late.
    assert {(h["scorer.error.topic"], h["scorer.error.reason"]) for h in letters} <= {
        (email.encode(), b"too_late")
    }
