"""Topic contracts: names, partitioning, and JSON Schemas in step with the models."""

from __future__ import annotations

import json
import re

import pytest

from scorer.contracts.schemas import SCHEMAS_DIR, schema_documents, stale_schemas
from scorer.contracts.topics import input_topics, load_topics


def test_every_topic_name_is_versioned_and_unique() -> None:
    names = [spec.name for spec in load_topics()]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"leads\.[a-z-]+\.v\d+", name), name


def test_lead_keyed_topics_share_one_partition_count() -> None:
    counts = {spec.partitions for spec in load_topics() if spec.keyed_by_entity}
    assert len(counts) == 1, "co-partitioned topics must have equal partition counts"


def test_every_input_event_type_has_exactly_one_topic() -> None:
    from scorer.core.events import EventKind

    types: list[str] = []
    for spec in input_topics():
        document = json.loads((SCHEMAS_DIR / spec.schema).read_text())
        types.extend(re.findall(r'"const": "([a-z_]+\.[a-z_]+)"', json.dumps(document)))
        types.extend(
            value
            for value in re.findall(
                r'"([a-z]+\.[a-z_]+)"', json.dumps(document.get("properties", {}).get("type", {}))
            )
        )
    assert {k.value for k in EventKind} <= set(types)


def test_schema_files_match_the_models() -> None:
    assert stale_schemas() == [], "run: scorer topics schemas --write"


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_schema_documents_are_valid_json_schema(name: str) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(json.loads((SCHEMAS_DIR / name).read_text()))


def test_published_alerts_and_score_changes_match_their_schemas() -> None:
    from jsonschema import Draft202012Validator

    from scorer.contracts.outputs import (
        alert_message,
        event_score_changes,
        score_changes_message,
    )
    from scorer.core import EngagementRule, Event, EventKind, Rules, Stage, Threshold, apply_event

    rules = Rules(
        version="contract-1",
        engagement=(
            EngagementRule(id="pricing", on=frozenset({EventKind.PAGE_VIEW}), points=50.0),
        ),
        thresholds=(Threshold(name="mql", value=80.0, rearm_below=60.0, moves_to=Stage.MQL),),
    )
    state, alerts, messages = None, [], []
    for n in range(2):
        event = Event(
            f"e{n}",
            "lead-1",
            EventKind.PAGE_VIEW,
            1_780_000_000.0 + n,
            "acc-1",
            {"url": "/pricing"},
        )
        update = apply_event(state, event, rules, 1_780_000_010.0)
        state = update.state
        alerts.extend(update.alerts)
        messages.append(event_score_changes("lead-1", event.event_id, update.changes))
    assert alerts, "two 50-point events cross 80"
    documents = schema_documents()
    alert_schema = Draft202012Validator(documents["handoff-alert.v1.schema.json"])
    change_schema = Draft202012Validator(documents["score-change.v2.schema.json"])
    for alert in alerts:
        alert_schema.validate(json.loads(json.dumps(alert_message(alert, 1_780_000_011.0))))
    message = json.loads(json.dumps(score_changes_message(rules.version, messages)))
    change_schema.validate(message)
    assert [e["event_id"] for e in message["events"]] == ["e0", "e1"]


def test_actions_sla_escalations_and_ticks_match_their_schemas() -> None:
    from jsonschema import Draft202012Validator

    from scorer.contracts.outputs import action_message, alert_message, timer_tick
    from scorer.core import replay
    from tests.unit.core.builders import DAY, T0, ev
    from tests.unit.core.loop_builders import LOOP_RULES, PAGE, to_mql

    events = [*to_mql(product="product-a"), ev("v", PAGE, T0 + 10, "L2", "A1", url="/pricing")]
    result = replay(events, LOOP_RULES, until=T0 + 100 * DAY)
    kinds = {a.kind for a in result.actions}
    assert kinds == {"send_email", "assign", "enroll_nurture"}
    assert "sla_breached" in {a.kind for a in result.alerts}
    documents = schema_documents()
    actions = Draft202012Validator(documents["action.v1.schema.json"])
    alerts = Draft202012Validator(documents["handoff-alert.v1.schema.json"])
    ticks = Draft202012Validator(documents["timer-tick.v1.schema.json"])
    for action in result.actions:
        message = json.loads(json.dumps(action_message(action, T0 + 100 * DAY)))
        actions.validate(message)
        assert message["decided_at"].endswith("+00:00")
    for alert in result.alerts:
        message = json.loads(json.dumps(alert_message(alert, T0 + 100 * DAY)))
        alerts.validate(message)
        if alert.kind == "sla_breached":
            assert message["handoff_alert_id"] == "lead:L1:mql:1"
            assert message["deadline"].endswith("+00:00")
        else:
            assert "deadline" not in message  # threshold alerts are unchanged
    ticks.validate(timer_tick(3, 1_780_000_000.5))
    assert not ticks.is_valid({"v": 1, "partition": 3})
    assert not actions.is_valid({**action_message(result.actions[0], T0), "kind": "call"})
