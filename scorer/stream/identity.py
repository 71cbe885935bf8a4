"""Identity links and anonymous visitors in the lead agent (semantics: core/identity.py).

- An anonymous visitor's events (lead `anon:<visitor id>`), on the visitor's partition:
  while it is not linked they are scored as its anonymous lead (quiet: no alert, action
  or account signal) and kept in the `visitor-state` table (bounded, see
  `identity.max_events` and `identity.lookback`); once linked they are forwarded,
  unchanged but for `lead_id`, to the lead's partition through `leads.rekeyed-events.v1`.
- An identity link (`leads.identity-links.v1`, keyed by the lead) is forwarded once to
  the visitor's partition and handled there, in order with the visitor's events, as a
  batch of its own (like an erasure): the kept history is re-published to the lead's
  partition with the original event ids, each acknowledged, and only then is the link
  recorded in the visitor's state. A crash in between handles the link again: the
  history is published again and the lead drops the copies as duplicates (by event id);
  a replayed link (known link id) changes nothing.
- History events carry the header `scorer.identity-history`; the lead scores them with
  `history_rules` (never refused as late), exactly as `scorer score-file` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka.errors import KafkaError
from faust.types import EventT, Message

from scorer.contracts import topics as contract
from scorer.contracts.identity import IdentityLink
from scorer.core.events import Event
from scorer.core.identity import (
    Visitor,
    expired,
    first_link,
    history_rules,
    lead_for,
    link,
    remember,
)
from scorer.core.rules import Rules
from scorer.stream.dead_letters import Rejection, parse_control
from scorer.stream.partitioning import owner_partition
from scorer.stream.views import all_teams

if TYPE_CHECKING:
    from scorer.stream.handlers import ScorerContext

log = logging.getLogger(__name__)

_MAX_RETRY_DELAY_S = 30.0
SOURCE_HEADER = "scorer.source-topic"
HISTORY_HEADER = "scorer.identity-history"
_TOPIC_BY_CATEGORY = {
    "web": contract.WEB_EVENTS,
    "email": contract.EMAIL_EVENTS,
    "seminar": contract.SEMINAR_EVENTS,
    "profile": contract.PROFILE_UPDATES,
    "feedback": contract.SALES_FEEDBACK,
}


def parse_link(value: bytes | None) -> IdentityLink | Rejection:
    return parse_control(IdentityLink, value)


def header(message: Message, name: str) -> bytes | None:
    headers: Any = message.headers
    pairs = headers.items() if isinstance(headers, dict) else headers or ()
    for key, value in pairs:
        if key == name:
            return bytes(value) if value is not None else b""
    return None


def rules_for(ctx: ScorerContext, message: Message) -> Rules:
    """The rules an event of this message is scored with (history: no lateness refusals)."""
    if message.topic != ctx.rekeyed_events.get_topic_name() or not message.headers:
        return ctx.rules
    return history_rules(ctx.rules) if header(message, HISTORY_HEADER) is not None else ctx.rules


def wire(event: Event) -> bytes:
    """An event as its input message (the inverse of the contract's `to_core`)."""
    record: dict[str, Any] = {
        "event_id": event.event_id,
        "lead_id": event.lead_id,
        "type": event.kind.value,
        "occurred_at": datetime.fromtimestamp(event.occurred_at, UTC).isoformat(),
    }
    if event.account_id is not None:
        record["account_id"] = event.account_id
    custom: dict[str, Any] = {}
    for name, value in event.fields.items():
        if name.startswith("custom."):
            custom[name.removeprefix("custom.")] = value
        else:
            record[name] = value
    if custom:
        record["custom"] = custom
    return orjson.dumps(record)


def route_visitor_event(ctx: ScorerContext, event: EventT[bytes], decoded: Event) -> bool:
    """Called on the visitor's own partition for an event of an anonymous lead: forward
    it to its lead if the visitor is linked (True), else keep it and let it be scored as
    the anonymous lead (False)."""
    key = decoded.lead_id.encode()
    visitor = ctx.visitor_by_id.get(key)
    policy = ctx.rules.identity
    if visitor is not None and expired(visitor, decoded.occurred_at, policy):
        visitor = None  # silent for the whole look-back: forgotten
    target = lead_for(visitor, decoded.occurred_at)
    source = _TOPIC_BY_CATEGORY[decoded.kind.category]
    if visitor is not None and target is not None:
        routed = Event(decoded.event_id, target, decoded.kind, decoded.occurred_at,
                       decoded.account_id, decoded.fields)  # fmt: skip
        _send_to_lead(ctx, routed, source, first_link(visitor, decoded.occurred_at))
        ctx.metrics.events.labels(ctx.settings.topic(source), "forwarded").inc()
        if visitor.last_seen is None or decoded.occurred_at > visitor.last_seen:
            # Still active: the link is remembered for another look-back.
            _store(ctx, event, key, replace(visitor, last_seen=decoded.occurred_at))
        return True
    kept = remember(visitor, decoded, policy)
    _store(ctx, event, key, kept)
    return False


def _store(ctx: ScorerContext, event: EventT[bytes], key: bytes, visitor: Visitor) -> None:
    ctx.visitor_by_id.put(key, visitor, event)
    if visitor.last_seen is not None:
        expires_at = visitor.last_seen + ctx.rules.identity.lookback_s
        ctx.visitor_expiry.set(event.message.partition, key, expires_at)


def expire_visitors(
    ctx: ScorerContext, partition: int, event: EventT[bytes], busy: Collection[bytes]
) -> None:
    """On a tick of the visitor's partition: forget visitors silent for the look-back
    (their kept events, links and anonymous lead state, and their Redis hash).

    The partition's expiry index is built from its table in slices from its first tick
    on (timer_index.py: at a million visitors a build in one go held the worker for
    minutes); a visitor not indexed yet expires once the build reaches it. An entry is
    only a reminder: expiry is decided on the visitor's newest state below."""
    policy = ctx.rules.identity
    ctx.visitor_expiry_index.advance(partition)
    now = ctx.partition_clock(partition, ctx.clock())
    teams: set[str] | None = None
    for key in ctx.visitor_expiry.pop_due(partition, now):
        visitor = ctx.visitor_by_id.get(key)
        if visitor is None:
            continue
        if key in busy or not expired(visitor, now, policy):
            # Active since (or its state is being written in this batch): look again later.
            seen = visitor.last_seen
            again = now if key in busy or seen is None else seen + policy.lookback_s
            ctx.visitor_expiry.set(partition, key, again)
            continue
        ctx.visitor_by_id.delete(key, event)
        if ctx.lead_state_by_id.get(key) is not None:
            ctx.lead_state_by_id.delete(key, event)
        teams = teams if teams is not None else all_teams(ctx.rules)
        ctx.read_model.stage_lead_erasure(visitor.lead_id, None, teams)
        ctx.metrics.identity_links.labels("visitor_expired").inc()


def _send_to_lead(ctx: ScorerContext, event: Event, source: str, history: str | None) -> None:
    key = event.lead_id.encode()
    headers = [(SOURCE_HEADER, ctx.settings.topic(source).encode())]
    if history is not None:  # an event older than every link: scored as history
        headers.append((HISTORY_HEADER, history.encode()))
    ctx.rekeyed_events.send_soon(
        key=key, value=wire(event), partition=owner_partition(key, ctx.settings.partitions),
        headers=headers,
    )  # fmt: skip


async def handle_link(ctx: ScorerContext, event: EventT[bytes]) -> None:
    """Handle one identity link (see the module docstring)."""
    message = event.message
    parsed = parse_link(message.value)
    if isinstance(parsed, Rejection):
        ctx.dead_letter(message, parsed)
        return
    new_link = parsed.to_core()
    key = new_link.anonymous_lead_id.encode()
    owner = owner_partition(key, ctx.settings.partitions)
    links_topic = ctx.settings.topic(contract.IDENTITY_LINKS)
    if message.partition != owner and message.topic == links_topic:
        ctx.rekeyed_events.send_soon(
            key=key, value=message.value, partition=owner,
            headers=[(SOURCE_HEADER, links_topic.encode())],
        )  # fmt: skip
        return
    if message.partition != owner:
        wrong = Rejection("bad_header", "link on the wrong partition", "ValueError")
        ctx.dead_letter(message, wrong)
        return
    before: Visitor | None = ctx.visitor_by_id.get(key)
    after, moved = link(before, new_link, ctx.rules.identity)
    if after is before:
        ctx.metrics.identity_links.labels("repeated").inc()
        return
    if ctx.lead_state_by_id.is_changed(key):
        # The anonymous lead's state goes to the changelog before the link is handled:
        # states are written once per checkpoint, and after a crash the link could be
        # replayed before the visitor's earlier events (topics are read independently),
        # which would then be forwarded to the lead instead of counting on the anonymous
        # lead. Handed to the producer ahead of the history events whose acknowledgements
        # are awaited next (not flushed: a flush per link slows merging several-fold
        # while the producer is busy; the window left is a send in flight). Its alerts
        # first (see Checkpointer.publish_then).
        await ctx.checkpoints.outputs_acknowledged()
        await ctx.lead_state_by_id.hand_over_changes()
    # Every history event acknowledged before the link is recorded (at least once).
    await _publish_history(ctx, moved, new_link.link_id)
    _store(ctx, event, key, after)
    ctx.metrics.identity_links.labels("merged" if moved else "linked").inc()
    # Ids only: the link id and how many events moved (no visitor or lead id in logs).
    log.info("identity link %s handled: %d events moved", new_link.link_id, len(moved))


async def _publish_history(ctx: ScorerContext, moved: tuple[Event, ...], link_id: str) -> None:
    """Publish and await every acknowledgement; retry all until the broker answers (a
    broker that does not answer stalls the partition, loudly, as alert publishing does;
    copies that landed twice are duplicates the lead drops)."""
    attempt = 0
    while True:
        try:
            pending = [await _send(ctx, event, link_id) for event in moved]
            for delivered in pending:
                await delivered
            return
        except (KafkaError, TimeoutError, OSError) as exc:
            attempt += 1
            ctx.metrics.publish_retries.inc()
            delay = min(_MAX_RETRY_DELAY_S, 0.5 * 2**attempt)
            log.warning(
                "identity history not acknowledged (%s); retry %d in %.0f s",
                type(exc).__name__, attempt, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)


async def _send(ctx: ScorerContext, event: Event, link_id: str) -> Any:
    """Hand a history event to the producer; the future of its acknowledgement."""
    key = event.lead_id.encode()
    source = ctx.settings.topic(_TOPIC_BY_CATEGORY[event.kind.category])
    headers = [(SOURCE_HEADER, source.encode()), (HISTORY_HEADER, link_id.encode())]
    return await ctx.rekeyed_events.send(
        key=key, value=wire(event), partition=owner_partition(key, ctx.settings.partitions),
        headers=headers,
    )  # fmt: skip


def is_link(ctx: ScorerContext, message: Message, source: str | Rejection | None) -> bool:
    links_topic = ctx.settings.topic(contract.IDENTITY_LINKS)
    return links_topic in (message.topic, source)
