"""An alert goes out when its batch is scored, not at the next checkpoint.

The worker writes states once per checkpoint (SCORER_CHECKPOINT_INTERVAL_S), but an
alert is published, and acknowledged by the broker, before the checkpoint that writes
the state recording it (docs/alert-latency.md). With a checkpoint interval of ten
minutes, the MQL alert of a journey's last event must still be on the hand-off topic
within seconds, while no checkpoint has been taken yet (the crossing event is found with
the offline replay, as `scorer score-file` would).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.core.replay import replay
from scorer.rules import load_rules
from scorer.settings import Settings
from scorer.stream.admin import apply_topics
from tests.integration.test_end_to_end import hot_lead_journey
from tests.support import WorkerProcess, event_messages, produce, run, wait_for

pytestmark = pytest.mark.integration

# Far more than any alert may take on a loaded machine, far less than the interval.
ALERT_WITHIN_S = 10.0
CHECKPOINT_INTERVAL_S = 600.0


async def _first_alert(settings: Settings, event_id: str, timeout_s: float) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        settings.topic(contract.HANDOFF_ALERTS), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        fetch_max_wait_ms=20,
    )  # fmt: skip
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    if alert.get("event_id") == event_id and alert.get("kind") == "mql":
                        return dict(alert)
        raise AssertionError(f"no MQL alert for {event_id} within {timeout_s:g} s")
    finally:
        await consumer.stop()


def test_an_alert_does_not_wait_for_the_checkpoint(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(checkpoint_interval_s=CHECKPOINT_INTERVAL_S)
    run(apply_topics(settings))
    journey = hot_lead_journey("lead-prompt", "acc-prompt", time.time() - 30)
    rules = load_rules(settings.rules_file)
    oracle = replay([parse_event(orjson.dumps(e)) for e in journey], rules)
    mql = next(a.event_id for a in oracle.alerts if a.kind == "mql")
    at = next(i for i, e in enumerate(journey) if e["event_id"] == mql)
    before, crossing = journey[:at], journey[at]
    worker = start_worker(settings)
    # Everything but the crossing event first, so that the timed part is one event's way
    # through a worker already serving the partition (its alert ledger read, if any).
    run(produce(settings, event_messages(before)))
    wait_for(lambda: worker.events_handled() >= len(before), 60, "the journey's first events")

    async def cross() -> tuple[float, dict[str, Any]]:
        sent = time.monotonic()
        await produce(settings, event_messages([crossing]))
        alert = await _first_alert(settings, crossing["event_id"], ALERT_WITHIN_S)
        return time.monotonic() - sent, alert

    took, alert = run(cross())
    assert alert["lead_id"] == "lead-prompt"
    assert took < ALERT_WITHIN_S
    # The state recording the crossing is still in memory only: no checkpoint wrote it.
    assert worker.metric("scorer_checkpoint_records_total") == 0
    print(f"event -> MQL alert on the hand-off topic: {took * 1000:.0f} ms")
