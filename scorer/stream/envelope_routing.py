"""Partition envelopes in the lead agent: which events of a message are scored where it
was read, and the forwarding of the others to the partitions that own their leads.

A message of an input topic is one event or a `leads.event-batch.v1` envelope of events
of one or several leads, produced to the partition that owns its first lead (its key).
Every lead should share that partition, but a producer with another partitioner (CRC32
in librdkafka) or another partition count puts some elsewhere. Lead state lives on the
owner partition, so each event not owned here is forwarded, in message order, to the
internal re-key topic on its owner's partition: one envelope per owner partition (key =
its first lead), or the event alone when it is the only one.

Forwarding happens once: a message read from the re-key topic is scored where it is,
whatever the hash says (a misconfigured partition count must not make a loop). Bad
events are never forwarded: they are dead-lettered where they are read, once, with their
position in the message they came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from faust.types import Message

from scorer.contracts.events import EVENT_BATCH_SCHEMA
from scorer.core.events import Event
from scorer.stream.dead_letters import Decoded
from scorer.stream.identity import SOURCE_HEADER
from scorer.stream.partitioning import owner_partition

if TYPE_CHECKING:
    from scorer.stream.handlers import ScorerContext

ENVELOPE_HEAD = b'{"schema":"' + EVENT_BATCH_SCHEMA.encode() + b'","events":['
ENVELOPE_TAIL = b"]}"


@dataclass(frozen=True, slots=True)
class Forward:
    """One message to the re-key topic: events owned by `partition`, in message order."""

    partition: int
    key: bytes  # the first event's lead
    value: bytes
    events: int


def split_by_owner(
    items: list[Decoded], value: bytes | None, partition: int, partitions: int
) -> tuple[list[Decoded], list[Forward]]:
    """The items to handle on `partition` (its own leads' events and every rejection), and
    the messages that carry the rest to their owners.

    `value` is the message's own value: a single event on a foreign partition is
    forwarded unchanged. Pure (no I/O), so the split is tested on its own.
    """
    if len(items) == 1:  # a single event (the common message): no lists, no grouping
        (item,) = items
        result = item.result
        if not isinstance(result, Event):
            return items, []
        key = result.lead_id.encode()
        single_owner = owner_partition(key, partitions)
        if single_owner == partition:
            return items, []
        body = value if item.index is None else item.value
        return [], [Forward(single_owner, key, body or b"", 1)]
    local: list[Decoded] = []
    foreign: dict[int, list[tuple[bytes, Decoded]]] = {}
    owner_of: dict[str, int] = {}  # per lead: an envelope often holds a lead several times
    for item in items:
        result = item.result
        if not isinstance(result, Event):
            local.append(item)
            continue
        owner = owner_of.get(result.lead_id)
        if owner is None:
            owner = owner_of[result.lead_id] = owner_partition(result.lead_id.encode(), partitions)
        if owner == partition:
            local.append(item)
        else:
            foreign.setdefault(owner, []).append((result.lead_id.encode(), item))
    forwards = []
    for owner, group in foreign.items():
        key = group[0][0]
        if len(group) == 1 and group[0][1].index is None:
            forwards.append(Forward(owner, key, value or b"", 1))  # a single event, unchanged
            continue
        parts = [item.value or b"null" for _, item in group]
        body = parts[0] if len(parts) == 1 else ENVELOPE_HEAD + b",".join(parts) + ENVELOPE_TAIL
        forwards.append(Forward(owner, key, body, len(parts)))
    return local, forwards


def keep_owned(
    ctx: ScorerContext, message: Message, source: str, items: list[Decoded]
) -> list[Decoded]:
    """Forward the events of `message` that another partition owns; the rest, to handle
    here. A message already re-keyed (read from the re-key topic) is kept whole."""
    if source != message.topic:
        return items  # never forward twice
    partitions = ctx.settings.partitions
    local, forwards = split_by_owner(items, message.value, message.partition, partitions)
    if forwards:
        headers = [(SOURCE_HEADER, source.encode())]
        for forward in forwards:
            ctx.rekeyed_events.send_soon(
                key=forward.key, value=forward.value, partition=forward.partition, headers=headers
            )
        ctx.metrics.events.labels(source, "rekeyed").inc(sum(f.events for f in forwards))
    return local
