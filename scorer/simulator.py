"""Traffic simulator: realistic events for a population of leads in accounts.

Most leads read a blog post or open a newsletter now and then; a few work through a
buying journey (pricing page, case study, webinar, contact form) and should become MQLs;
at some target accounts several people engage at once, which should make the account an
MQA. Deterministic for a given seed, so benchmarks and tests can replay the same traffic.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from scorer.contracts import topics as contract
from scorer.contracts.events import EVENT_BATCH_SCHEMA

TOPIC_BY_CATEGORY = {
    "web": contract.WEB_EVENTS,
    "email": contract.EMAIL_EVENTS,
    "seminar": contract.SEMINAR_EVENTS,
    "profile": contract.PROFILE_UPDATES,
    "feedback": contract.SALES_FEEDBACK,
}

INDUSTRIES = ["manufacturing", "manufacturing", "software", "retail", "finance", "logistics"]
TITLES = [
    ("営業部長", "director"), ("Head of Operations", "director"), ("VP Engineering", "vp"),
    ("CTO", "c_level"), ("情報システム部 課長", "manager"), ("Marketing Manager", "manager"),
    ("Software Engineer", "staff"), ("経理担当", "staff"), ("Analyst", "staff"),
    ("Student", "student"),
]  # fmt: skip
COUNTRIES = ["JP", "JP", "JP", "US", "DE", "SG"]
PRODUCTS = ["product-a", "product-b"]
BLOG_PATHS = ["/blog/dx-trends", "/blog/iot-basics", "/blog/cost-down", "/", "/about"]
FREEMAIL = ["gmail.com", "yahoo.co.jp"]


@dataclass(frozen=True, slots=True)
class SimEvent:
    topic: str  # contract topic name (without deployment prefix)
    key: str
    value: dict[str, Any]
    at: float  # event time, epoch seconds


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class Population:
    """Leads grouped in accounts, with a fixed share on a buying journey."""

    def __init__(
        self,
        leads: int = 200,
        accounts: int = 20,
        hot_share: float = 0.05,
        seed: int = 7,
    ) -> None:
        self.rng = random.Random(seed)
        self.accounts = [f"acc-{i:05d}" for i in range(accounts)]
        self.lead_ids = [f"lead-{i:06d}" for i in range(leads)]
        self.account_of = {
            lead: self.accounts[i % accounts] for i, lead in enumerate(self.lead_ids)
        }
        hot = max(1, int(leads * hot_share))
        self.hot = set(self.rng.sample(self.lead_ids, hot))
        # One target account gets a buying group: three of its people go hot together.
        self.buying_group = [
            lead for lead in self.lead_ids if self.account_of[lead] == self.accounts[0]
        ][:3]
        self.hot.update(self.buying_group)
        self._seq = 0

    def _event(self, lead: str, kind: str, at: float, **fields: Any) -> SimEvent:
        self._seq += 1
        value = {
            "event_id": f"sim-{self._seq:09d}",
            "lead_id": lead,
            "account_id": self.account_of[lead],
            "type": kind,
            "occurred_at": _iso(at),
            **fields,
        }
        return SimEvent(TOPIC_BY_CATEGORY[kind.partition(".")[0]], lead, value, at)

    def profiles(self, at: float) -> Iterator[SimEvent]:
        """One profile per lead; hot leads fit the ideal customer profile."""
        rng = self.rng
        for lead in self.lead_ids:
            if lead in self.hot:
                title, seniority = rng.choice(TITLES[:4])
                industry, employees, domain = (
                    "manufacturing",
                    rng.randint(150, 5000),
                    "example.co.jp",
                )
            else:
                title, seniority = rng.choice(TITLES)
                industry, employees = rng.choice(INDUSTRIES), rng.randint(5, 3000)
                domain = rng.choice([*FREEMAIL, "example.com", "example.co.jp"])
            yield self._event(
                lead, "profile.updated", at,
                company=f"Company {self.account_of[lead]}", employee_count=employees,
                industry=industry, title=title, seniority=seniority,
                country=rng.choice(COUNTRIES), email_domain=domain,
            )  # fmt: skip

    def journey(self, lead: str, start: float, spacing_s: float) -> Iterator[SimEvent]:
        """A buying journey: research, pricing, proof, contact."""
        product = self.rng.choice(PRODUCTS)
        steps: list[tuple[str, dict[str, Any]]] = [
            ("web.page_view", {"url": f"/products/{product}"}),
            ("email.open", {"campaign_id": "newsletter-2026-11"}),
            ("email.click", {"campaign_id": "newsletter-2026-11", "url": "/pricing"}),
            ("web.page_view", {"url": "/pricing"}),
            ("web.content_download", {"asset_id": f"case-{product}", "asset_type": "case_study"}),
            ("seminar.registered", {"webinar_id": "webinar-dx-2026"}),
            ("seminar.attended", {"webinar_id": "webinar-dx-2026"}),
            ("web.page_view", {"url": "/pricing/enterprise"}),
            ("web.content_download", {"asset_id": f"wp-{product}", "asset_type": "whitepaper"}),
            ("web.form_submit", {"form_id": "contact-sales", "url": "/contact"}),
        ]  # fmt: skip
        for index, (kind, fields) in enumerate(steps):
            about = {"product": product} if kind.startswith(("web.", "seminar.")) else {}
            yield self._event(lead, kind, start + index * spacing_s, **fields, **about)

    def background(self, at: float) -> SimEvent:
        """Casual activity of a random lead."""
        rng = self.rng
        lead = rng.choice(self.lead_ids)
        roll = rng.random()
        if roll < 0.55:
            return self._event(lead, "web.page_view", at, url=rng.choice(BLOG_PATHS))
        if roll < 0.85:
            return self._event(lead, "email.open", at, campaign_id="newsletter-2026-11")
        if roll < 0.93:
            return self._event(lead, "email.delivered", at, campaign_id="newsletter-2026-11")
        if roll < 0.97:
            return self._event(lead, "web.page_view", at, url="/careers")
        return self._event(lead, "email.unsubscribe", at, campaign_id="newsletter-2026-11")


def simulate(
    population: Population, start: float, duration_s: float, rate_per_s: float
) -> Iterator[SimEvent]:
    """All events of a run in event-time order: profiles first, then traffic."""
    yield from population.profiles(start)
    hot = sorted(population.hot)
    spacing = max(0.5, duration_s / 3 / 10)
    journeys = [
        event
        for index, lead in enumerate(hot)
        for event in population.journey(
            lead, start + 1 + index * duration_s / (2 * len(hot)), spacing
        )
    ]
    background = [
        population.background(start + 1 + i / rate_per_s)
        for i in range(int(duration_s * rate_per_s))
    ]
    yield from sorted(journeys + background, key=lambda e: e.at)


def _enveloped(group: list[SimEvent], at: float) -> SimEvent:
    """A group of events as one event-batch envelope sent at `at` (one event: as is)."""
    first = group[0]
    if len(group) == 1:
        return first
    value = {"schema": EVENT_BATCH_SCHEMA, "events": [e.value for e in group]}
    return SimEvent(first.topic, first.key, value, at)


def envelopes(events: Iterable[SimEvent], max_events: int, window_s: float) -> Iterator[SimEvent]:
    """Group one lead's events of one topic into event-batch envelopes, as a producer that
    buffers per lead would: an envelope closes at `max_events` events, or when an event
    comes more than `window_s` (event time) after its first one. A lone event is sent
    as a single event, so a stream mixes both forms as real producers will.

    Per lead and topic, events keep their order; across leads an envelope is sent at its
    closing time (the timestamp `at` of the returned message), so leads interleave
    differently than in the input, which lead scores do not depend on.
    """
    if max_events < 1:
        raise ValueError("max_events must be at least 1")
    open_: dict[tuple[str, str], list[SimEvent]] = {}  # insertion order = opening order

    for event in events:
        while open_:  # close the envelopes whose window has passed, oldest first
            oldest = next(iter(open_))
            group = open_[oldest]
            if event.at - group[0].at <= window_s:
                break
            del open_[oldest]
            yield _enveloped(group, group[0].at + window_s)  # when a buffering producer sends
        slot = (event.topic, event.key)
        group = open_.setdefault(slot, [])
        group.append(event)
        if len(group) >= max_events:
            del open_[slot]
            yield _enveloped(group, event.at)
    for group in open_.values():
        yield _enveloped(group, group[-1].at)


def partition_envelopes(
    events: Iterable[SimEvent],
    partitions: int,
    max_events: int,
    window_s: float,
    max_bytes: int = 65536,
) -> Iterator[SimEvent]:
    """Group the events of every lead a partition owns, per topic, into partition
    envelopes, as the collector's linger does: an envelope closes at `max_events` events,
    before it would pass `max_bytes`, or when an event comes more than `window_s` (event
    time) after its first one. The key is the first event's lead; murmur2 on it (what
    `publish` does) picks the partition every lead of the envelope belongs to. A lone
    event is sent as a single event."""
    from scorer.stream.partitioning import owner_partition

    if max_events < 1:
        raise ValueError("max_events must be at least 1")
    frame = len(b'{"schema":"","events":[]}') + len(EVENT_BATCH_SCHEMA)
    open_: dict[tuple[str, int], tuple[list[SimEvent], int]] = {}  # (events, bytes)

    for event in events:
        while open_:  # close the envelopes whose window has passed, oldest first
            oldest = next(iter(open_))
            group = open_[oldest][0]
            if event.at - group[0].at <= window_s:
                break
            del open_[oldest]
            yield _enveloped(group, group[0].at + window_s)
        slot = (event.topic, owner_partition(event.key.encode(), partitions))
        size = len(orjson.dumps(event.value)) + 1
        group, used = open_.get(slot, ([], frame))
        if group and used + size > max_bytes:
            del open_[slot]
            yield _enveloped(group, event.at)
            group, used = [], frame
        group.append(event)
        open_[slot] = (group, used + size)
        if len(group) >= max_events:
            del open_[slot]
            yield _enveloped(group, event.at)
    for group, _ in open_.values():
        yield _enveloped(group, group[-1].at)
