"""Topic contracts read from `topics/topics.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

TOPICS_DIR = Path(__file__).resolve().parent.parent.parent / "topics"
SCHEMAS_DIR = TOPICS_DIR / "schemas"

_DURATION = re.compile(r"^(\d+)([dhms])$")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000}

# Short names the code uses for the contract topics.
WEB_EVENTS = "leads.web-events.v1"
EMAIL_EVENTS = "leads.email-events.v1"
SEMINAR_EVENTS = "leads.seminar-events.v1"
PROFILE_UPDATES = "leads.profile-updates.v1"
SALES_FEEDBACK = "leads.sales-feedback.v1"
HANDOFF_ALERTS = "leads.handoff-alerts.v1"
SCORE_CHANGES = "leads.score-changes.v2"
DEAD_LETTERS = "leads.dead-letters.v1"
ACCOUNT_SIGNALS = "leads.account-signals.v1"
REKEYED_EVENTS = "leads.rekeyed-events.v1"
ACTIONS = "leads.actions.v1"
TIMER_TICKS = "leads.timer-ticks.v1"
ERASE_REQUESTS = "leads.erase-requests.v1"
ERASURES = "leads.erasures.v1"
IDENTITY_LINKS = "leads.identity-links.v1"


class ContractError(Exception):
    """topics.yaml is malformed; str() names the topic and field."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    role: Literal["input", "control", "output", "internal"]  # control: requests, not events
    partitions: int
    cleanup: str
    retention_ms: int
    key: str
    schema: str
    doc: str
    envelope: str | None = None  # input topics: schema of the event-batch envelope

    @property
    def keyed_by_entity(self) -> bool:
        """Keyed by lead or account (or a lead partition), so co-partitioned with the tables."""
        return self.key in {"lead_id", "account_id", "lead_id or account_id", "partition number"}

    def kafka_configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}


def _retention_ms(text: str, where: str) -> int:
    if text == "forever":
        return -1
    match = _DURATION.match(text)
    if not match:
        raise ContractError(f"{where}.retention: expected e.g. 14d, 6h or forever, got {text!r}")
    return int(match[1]) * _UNIT_MS[match[2]]


@cache
def load_topics(path: Path = TOPICS_DIR / "topics.yaml") -> tuple[TopicSpec, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = []
    for index, entry in enumerate(data["topics"]):
        where = f"{path.name}: topics[{index}]"
        try:
            specs.append(
                TopicSpec(
                    name=entry["name"],
                    role=entry["role"],
                    partitions=int(entry["partitions"]),
                    cleanup=entry["cleanup"],
                    retention_ms=_retention_ms(str(entry["retention"]), where),
                    key=entry["key"],
                    schema=entry["schema"],
                    doc=entry["doc"],
                    envelope=entry.get("envelope"),
                )
            )
        except KeyError as exc:
            raise ContractError(f"{where}: missing field {exc.args[0]}") from None
    return tuple(specs)


def topic_spec(name: str) -> TopicSpec:
    for spec in load_topics():
        if spec.name == name:
            return spec
    raise KeyError(name)


def input_topics() -> tuple[TopicSpec, ...]:
    return tuple(s for s in load_topics() if s.role == "input")
