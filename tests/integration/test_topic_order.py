"""A backlog whose topics were produced in an adversarial order (all sales feedback first,
then profiles, email, seminars, web) before the worker starts: the worker's alerts,
scenario actions, stages and scores equal `scorer score-file` on the file order, no
feedback is dead-lettered, a nightly CRM sync and a next-morning rejection hours behind
the lead's activity are scored (lateness per input kind), and an event dated decades
ahead is refused without moving anyone's clock (issue 17, points 1-3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.core import replay
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE
from scorer.simulator import TOPIC_BY_CATEGORY, Population, simulate
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    produce,
    read_topic,
    run,
    scores_differing_from,
    topics_in_turn,
    wait_for,
    with_sales_answers,
)

pytestmark = pytest.mark.integration

HOUR = 3600.0


def order_rules(tmp_path: Path) -> Path:
    """The default rules with a 3-day SLA: the nightly-sync lead's hand-off is 12 h old,
    and a caught-up worker fires deadlines by the wall clock (see test_handoff_loop.py)."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    for old in ("  follow_up: 4h", "  inside-sales-product-a: 4h", "  enterprise-sales: 1d"):
        assert text.count(old) == 1, old
        text = text.replace(old, old.rsplit(":", 1)[0] + ": 3d")
    path = tmp_path / "order-rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _event(event_id: str, lead: str, kind: str, at: float, **fields: Any) -> dict[str, Any]:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}+00:00"
    return {"event_id": event_id, "lead_id": lead, "account_id": "acct-night", "type": kind,
            "occurred_at": iso, **fields}  # fmt: skip


def nightly_sync(now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A lead handed off yesterday, active again this morning (these arrive on time);
    then the CRM's nightly sync brings yesterday's title change (11 h behind the lead's
    latest event) and sales enter yesterday's rejection (10 h behind) after the morning
    visit: both far beyond the 6 h of web lateness."""
    day = now - 12 * HOUR
    on_time = [
        _event("night-1", "night-owl", "profile.updated", day, title="生産技術課 主任",
               employee_count=500, industry="製造業", country="JP"),
        _event("night-2", "night-owl", "web.form_submit", day + 60, form_id="demo-request"),
        _event("night-3", "night-owl", "seminar.attended", day + 120, webinar_id="dx-summit"),
        _event("night-4", "night-owl", "web.content_download", day + 180,
               asset_id="case-1", asset_type="case_study"),
        _event("night-5", "night-owl", "web.page_view", now - 100, url="/blog/iot"),
    ]  # fmt: skip
    synced_late = [
        _event("night-6", "night-owl", "profile.updated", day + HOUR, title="生産技術部 部長"),
        _event("night-7", "night-owl", "feedback.rejected", now - 10 * HOUR,
               reason="no budget this year"),
    ]  # fmt: skip
    return on_time, synced_late


def test_a_backlog_in_adversarial_topic_order_equals_the_replay(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    rules_file = order_rules(tmp_path)
    settings = make_settings(rules_file=rules_file)
    run(apply_topics(settings))
    rules = load_rules(rules_file)
    now = time.time()
    population = Population(leads=60, accounts=6, hot_share=0.2, seed=17)
    simulated = with_sales_answers(list(simulate(population, now - 150, 120, 6)), rules)
    values = [e.value for e in simulated]
    first_lead = values[0]["lead_id"]
    far_future = _event("typo-2062", first_lead, "web.page_view", 2_916_000_000.0, url="/pricing")
    sales_sourced = _event("won-1", "sales-sourced", "feedback.won", now - 40)
    on_time, synced_late = nightly_sync(now)
    values = sorted([*values, *on_time], key=lambda v: parse_event(orjson.dumps(v)).occurred_at)
    values = [*values[: len(values) // 2], far_future, *values[len(values) // 2 :]]
    values += [*synced_late, sales_sourced]
    assert sum(v["type"].startswith("feedback.") for v in values) >= 6

    messages = [
        (TOPIC_BY_CATEGORY[v["type"].partition(".")[0]], v["lead_id"].encode(), orjson.dumps(v))
        for v in values
    ]
    run(produce(settings, topics_in_turn(messages)))
    worker = start_worker(settings)
    wait_for(lambda: worker.events_handled() >= len(messages), 90, "the backlog read")

    until = time.time()
    oracle = replay(
        [parse_event(orjson.dumps(v)) for v in values], rules, until=until, received_by=until
    )
    assert [(r.event_id, r.outcome.value) for r in oracle.rejected] == [
        ("typo-2062", "too_far_in_future")
    ]
    expected_alerts = {a for a in oracle.alert_ids() if a.startswith("lead:")}
    expected_actions = set(oracle.action_ids())
    assert expected_actions, "the simulated journeys trigger scenario actions"
    assert oracle.leads["night-owl"].stage == "recycled"
    assert [h.event_id for h in oracle.leads["sales-sourced"].loop.held] == ["won-1"]

    def published(topic: str, field: str) -> set[str]:
        return {orjson.loads(m.value)[field] for m in run(read_topic(settings, topic))}

    def outputs() -> tuple[set[str], set[str]]:
        alerts = {
            a for a in published(contract.HANDOFF_ALERTS, "alert_id") if a.startswith("lead:")
        }
        return alerts, published(contract.ACTIONS, "action_id")

    try:
        wait_for(
            lambda: outputs() == (expected_alerts, expected_actions), 60, "the replay's outputs"
        )
    except AssertionError:
        alerts, actions = outputs()
        print("alerts missing:", expected_alerts - alerts, "extra:", alerts - expected_alerts)
        print("actions missing:", expected_actions - actions, "extra:", actions - expected_actions)
        raise
    letters = run(read_topic(settings, contract.DEAD_LETTERS))
    reasons = [
        dict((k, bytes(v).decode()) for k, v in m.headers)["scorer.error.reason"] for m in letters
    ]
    assert reasons == ["future_timestamp"]

    wait_for(lambda: not scores_differing_from(oracle, rules, settings), 30, "the replay's scores")
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    stages = {
        lead: client.hget(f"{settings.redis_key_prefix}lead:{lead}", "stage")
        for lead in oracle.leads
    }
    assert stages == {lead: state.stage for lead, state in oracle.leads.items()}
