"""kill -9 mid-stream, restart: final scores equal the offline replay, every alert and
scenario action the replay predicts is on its topic, and no id appears there twice. The
load includes sales feedback answering the hand-offs, and what is produced while the
worker is down goes topic after topic, all feedback first (issue 17): the restarted
worker reads a backlog whose feedback overtakes the activity it answers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.core import replay
from scorer.rules import load_rules
from scorer.simulator import Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    committed_offsets,
    produce,
    read_topic,
    run,
    scores_differing_from,
    topics_in_turn,
    wait_for,
    with_sales_answers,
)

pytestmark = pytest.mark.integration


def test_a_killed_worker_restarts_without_losing_or_duplicating(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(partitions=4)
    run(apply_topics(settings))
    rules = load_rules(settings.rules_file)
    population = Population(leads=120, accounts=12, hot_share=0.08, seed=5)
    simulated = list(simulate(population, time.time() - 150, duration_s=120, rate_per_s=12))
    events = with_sales_answers(simulated, rules)
    oracle = replay([parse_event(orjson.dumps(e.value)) for e in events], rules)
    # Lead alerts are crossings of each lead's event-time trajectory, so they are exact;
    # an MQA fires when lead signals arrive, an order partitions do not fix (see README).
    expected = {a for a in oracle.alert_ids() if a.startswith("lead:")}
    expected_actions = set(oracle.action_ids())
    assert len(expected) >= 5
    assert expected_actions
    assert len(events) - len(simulated) >= 3, "sales answers some hand-offs"
    messages = [(e.topic, e.key.encode(), orjson.dumps(e.value)) for e in events]
    half, quarter = len(messages) // 2, len(messages) // 4

    first = start_worker(settings, "first")
    # Killed after a commit and mid-stream past it, the restart replays from the committed
    # offset over states already written with later events: the path that must hold.
    # (Killed before its first commit, a worker's successor simply replays everything.)
    run(produce(settings, messages[:quarter]))
    inputs = [contract.WEB_EVENTS, contract.EMAIL_EVENTS]
    wait_for(
        lambda: run(committed_offsets(settings, inputs)), 60, "the first worker's first commit"
    )
    run(produce(settings, messages[quarter:half]))
    wait_for(
        lambda: first.events_handled() >= quarter + quarter // 3, 60, "the first worker mid-stream"
    )
    first.process.kill()

    run(produce(settings, topics_in_turn(messages[half:])))
    second = start_worker(settings, "second")

    def alert_ids() -> list[str]:
        return [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]

    def missing_alerts() -> set[str]:
        return expected - {a for a in alert_ids() if a.startswith("lead:")}

    try:
        wait_for(lambda: not missing_alerts(), 120, "every predicted alert after the restart")
    except AssertionError:
        _explain_missing(sorted(missing_alerts()), oracle, rules, second)
        _print_tasks(second)
        raise

    def scores_match() -> list[str]:
        return scores_differing_from(oracle, rules, settings)

    try:
        wait_for(
            lambda: not scores_match(), 60, "every lead's and account's score to equal the replay"
        )
    except AssertionError:
        _explain_differences(scores_match(), oracle, rules, settings, second)
        raise
    published = alert_ids()
    duplicates = [alert_id for alert_id, n in Counter(published).items() if n > 1]
    assert duplicates == []
    assert {a for a in published if a.startswith("lead:")} == expected

    def all_actions() -> list[str] | None:
        ids = _action_ids(settings)
        return ids if set(ids) >= expected_actions else None

    try:
        actions = wait_for(all_actions, 30, "every predicted scenario action")
    except AssertionError:
        print("missing actions:", expected_actions - set(_action_ids(settings)))
        raise
    assert set(actions) == expected_actions
    assert [a for a, n in Counter(actions).items() if n > 1] == []
    refused = [
        dict((k, bytes(v).decode()) for k, v in m.headers)
        for m in run(read_topic(settings, contract.DEAD_LETTERS))
    ]
    assert [h["scorer.error.reason"] for h in refused] == []
    # Reaching the replay's scores is not enough if the stall guard had to fetch dropped
    # records again: that is the net, and the restart must not need it.
    stalls = second.metric("scorer_stalled_partitions_total")
    assert stalls == 0, f"{stalls:.0f} input partitions stalled after the restart (see the log)"
    assert second.process.exit_code() is None


def _action_ids(settings: Any) -> list[str]:
    return [orjson.loads(m.value)["action_id"] for m in run(read_topic(settings, contract.ACTIONS))]


def _explain_differences(
    subjects: list[str], oracle: Any, rules: Any, settings: Any, worker: WorkerProcess
) -> None:
    """On failure: what Redis, the worker's table and the replay each say per subject."""
    import urllib.request

    import redis

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    for subject in subjects:
        kind = "lead" if subject.startswith("lead") else "account"
        stored = client.hgetall(f"{settings.redis_key_prefix}{kind}:{subject}")
        states = oracle.leads if kind == "lead" else oracle.accounts
        state = states[subject]
        at = float(stored.get("score_at", 0) or 0)
        with urllib.request.urlopen(f"{worker.base_url}/{kind}s/{subject}", timeout=5) as r:  # noqa: S310
            served = r.read().decode()[:1500]
        print(
            f"--- {subject}: redis={stored}\n  replay at score_at={state.score_at(at, rules)}\n  worker={served}"
        )


def _explain_missing(alert_ids: list[str], oracle: Any, rules: Any, worker: WorkerProcess) -> None:
    """On failure: what the worker counted, and its and the replay's view of each lead."""
    import urllib.request

    print("missing:", alert_ids)
    counters = ("scorer_events_total", "scorer_dedup", "scorer_alerts", "scorer_stalled")
    print("\n".join(line for line in worker.metrics().splitlines() if line.startswith(counters)))
    for lead_id in sorted({alert_id.split(":")[1] for alert_id in alert_ids}):
        with urllib.request.urlopen(f"{worker.base_url}/leads/{lead_id}", timeout=5) as r:  # noqa: S310
            served = r.read().decode()[:3000]
        replayed = oracle.leads[lead_id].score_at(time.time(), rules)
        print(f"--- {lead_id}: replay={replayed}\n  worker={served}")


def _print_tasks(worker: WorkerProcess) -> None:
    """Where a stalled worker waits: mode's SIGUSR1 handler logs every asyncio task."""
    import os
    import signal

    pid = worker.process.pid
    if pid is None:
        return
    os.kill(pid, signal.SIGUSR1)
    time.sleep(2)  # the dump is written asynchronously by the worker
    print(worker.log_text()[-20000:])
