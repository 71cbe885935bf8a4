"""Erasing a lead (GDPR art. 17, APPI), inside the lead agent, in order with its events.

An erase request (`leads.erase-requests.v1`, keyed by lead id, from a CRM or `scorer
erase`) is handled by the agent that owns the lead, as a batch of its own: what the
partition read before it is stored first, what it reads after it starts a fresh lead.

1. The erasure record goes out first, acknowledged, to `leads.erasures.v1` and to the
   hand-off and actions topics (effectively once, by erasure id, like alerts). On those
   two topics it follows the lead's alerts and actions in order, so their consumers know
   which copies to delete, and the worker's ledgers of published ids forget the lead's
   ids: its fresh start reuses them (`lead:<id>:mql:1`), also after a restart.
2. The lead's state is deleted from the table (at the next checkpoint, see
   state_cache.py), which writes a tombstone to the changelog (a restart restores
   nothing; Kafka compaction removes the older records).
3. Its account drops it (a `lead_erased` entry on the account-signal topic, after the
   lead's earlier signals) and recomputes its score from the remaining contacts.
4. Its Redis hash and its entries in every hot-lead ranking are deleted.

A crash between 1 and 2 handles the request again: the record is already published,
the rest is idempotent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from faust.types import EventT

from scorer.contracts.erasure import EraseRequest, erasure_record
from scorer.contracts.outputs import account_signals_message, lead_erased
from scorer.stream.dead_letters import Rejection, parse_control
from scorer.stream.partitioning import owner_partition
from scorer.stream.publisher import OutputRecord
from scorer.stream.views import all_teams

if TYPE_CHECKING:
    from scorer.stream.handlers import ScorerContext

log = logging.getLogger(__name__)

_SOURCE_HEADER = "scorer.source-topic"


def parse_request(value: bytes | None) -> EraseRequest | Rejection:
    return parse_control(EraseRequest, value)


async def erase_lead(ctx: ScorerContext, event: EventT[bytes]) -> None:
    """Handle one erase request (see the module docstring)."""
    from scorer.stream.handlers import Output

    message = event.message
    request = parse_request(message.value)
    if isinstance(request, Rejection):
        ctx.dead_letter(message, request)
        return
    lead_id = request.lead_id
    key = lead_id.encode()
    owner = owner_partition(key, ctx.settings.partitions)
    source = ctx.erase_requests.get_topic_name()
    if message.partition != owner and message.topic == source:
        # A producer hashing keys otherwise (librdkafka's CRC32): to the owner, once.
        ctx.rekeyed_events.send_soon(
            key=key, value=message.value, partition=owner,
            headers=[(_SOURCE_HEADER, source.encode())],
        )  # fmt: skip
        return
    request_id = request.request_id or f"{message.topic}:{message.partition}:{message.offset}"
    # The lead's alerts of earlier batches are on the broker before its state is written
    # and before the erasure record follows them (see Checkpointer.publish_then).
    await ctx.checkpoints.outputs_acknowledged()
    state = ctx.lead_state_by_id.get(key)
    account_id = state.account_id if state is not None else None
    if state is not None:
        # The lead's state, with the crossings its alerts record, reaches the changelog
        # before the erasure makes the ledgers forget those alerts' ids. Else a crash
        # before the next checkpoint would replay the lead's events from an older state
        # and publish its alerts again, after the erasure record.
        ctx.lead_state_by_id.write_changes()
        await ctx.lead_state_by_id.changes_acknowledged()
        await ctx.flush_changelog()
    record = orjson.dumps(
        erasure_record(request, request_id, account_id, state is not None, ctx.clock())
    )
    erasure_id = f"erasure:{lead_id}:{request_id}"
    for topic, ledger in (
        (ctx.erasures, ctx.erasure_ledger),
        (ctx.handoff_alerts, ctx.ledger),
        (ctx.actions, ctx.action_ledger),
    ):
        output = Output(
            erasure_id, "erasure", OutputRecord(topic.get_topic_name(), owner, key, record)
        )
        await ctx.publish_acked(
            ledger, [output], ctx.metrics.erasures, ctx.metrics.erasures.labels("repeated")
        )
        ledger.erase(owner, lead_id)
    if state is not None:
        ctx.lead_state_by_id.delete(key, event)
    # A wake-up still in the due index finds no state and passes.
    if account_id:
        account_key = account_id.encode()
        ctx.account_signals.send_soon(
            key=account_key,
            value=orjson.dumps(account_signals_message([lead_erased(account_id, lead_id)])),
            partition=owner_partition(account_key, ctx.settings.partitions),
        )
    ctx.read_model.stage_lead_erasure(lead_id, account_id, all_teams(ctx.rules))
    ctx.metrics.erasures.labels("erased" if state is not None else "not_found").inc()
    # The request id, not the lead id: the log should not keep what was just erased.
    log.info("erase request %s handled (state found: %s)", request_id, state is not None)
