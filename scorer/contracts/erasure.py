"""Erasure (GDPR art. 17, APPI): the request a CRM or `scorer erase` sends, and the record
the scorer publishes once a lead is erased (see docs/erasure.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scorer.contracts.outputs import rfc3339


class EraseRequest(BaseModel):
    """Erase one lead: its state, its Redis keys and its contribution to its account."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["erase_request"]
    lead_id: str = Field(min_length=1, max_length=256)
    request_id: str | None = Field(
        default=None,
        max_length=128,
        description="The requester's id, echoed in the erasure record (default: the "
        "request's topic, partition and offset). Never personal data.",
    )
    requested_at: datetime | None = Field(default=None, description="RFC 3339 with offset.")


class ErasureRecord(BaseModel):
    """A lead was erased. Published on leads.erasures.v1, and on the hand-off and actions
    topics in order with their records (consumers delete their copies of the lead's
    alerts and actions; the worker's own ledgers forget the lead's ids)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["erasure"]
    v: Literal[1]
    erasure_id: str = Field(description="erasure:<lead_id>:<request_id>; dedupe by it.")
    lead_id: str
    request_id: str
    account_id: str | None = Field(description="The account the lead was removed from.")
    found: bool = Field(description="Whether the scorer held state for the lead.")
    requested_at: str | None
    erased_at: str = Field(description="When the worker erased the lead, RFC 3339.")


def erase_request(lead_id: str, request_id: str, requested_at: float) -> dict[str, object]:
    return {
        "type": "erase_request",
        "lead_id": lead_id,
        "request_id": request_id,
        "requested_at": rfc3339(requested_at),
    }


def erasure_record(
    request: EraseRequest, request_id: str, account_id: str | None, found: bool, now: float
) -> dict[str, object]:
    requested_at = request.requested_at
    return {
        "type": "erasure",
        "v": 1,
        "erasure_id": f"erasure:{request.lead_id}:{request_id}",
        "lead_id": request.lead_id,
        "request_id": request_id,
        "account_id": account_id,
        "found": found,
        "requested_at": requested_at.isoformat() if requested_at is not None else None,
        "erased_at": rfc3339(now),
    }


ERASURE_MODEL_BY_SCHEMA: dict[str, Any] = {
    "erase-request.v1.schema.json": EraseRequest,
    "erasure.v1.schema.json": ErasureRecord,
}
