"""Email-platform webhooks: signature checks and the mapping to email events.

SendGrid signs `timestamp + body` with ECDSA P-256/SHA-256 (headers
X-Twilio-Email-Event-Webhook-Signature and -Timestamp; the verification key is shown in
SendGrid's Mail Settings). Mailgun signs `timestamp + token` with HMAC-SHA256 under the
webhook signing key, inside the JSON body. Replays of a signed request carry the same
event ids, which the worker drops as duplicates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from pydantic import ValidationError

from scorer.collector.identity import lead_id_from_email, valid_lead_id
from scorer.collector.intake import Record
from scorer.contracts import topics as contract
from scorer.contracts.events import EmailEvent

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

# Platform event → (email event type, bounce type); spam reports count as unsubscribes
# (the contract has no spam type, and the platform stops mailing the address either way).
_SENDGRID_TYPES: dict[str, tuple[str, str | None]] = {
    "delivered": ("email.delivered", None),
    "open": ("email.open", None),
    "click": ("email.click", None),
    "bounce": ("email.bounce", "hard"),
    "blocked": ("email.bounce", "soft"),
    "unsubscribe": ("email.unsubscribe", None),
    "group_unsubscribe": ("email.unsubscribe", None),
    "spamreport": ("email.unsubscribe", None),
}
_MAILGUN_TYPES: dict[str, tuple[str, str | None]] = {
    "delivered": ("email.delivered", None),
    "opened": ("email.open", None),
    "clicked": ("email.click", None),
    "unsubscribed": ("email.unsubscribe", None),
    "complained": ("email.unsubscribe", None),
}


class BadSignature(Exception):
    """str() is the metric reason: unsigned, bad_signature, not_configured."""


def sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or PEM."""
    raw = text.strip()
    key = (
        load_pem_public_key(raw.encode())
        if raw.startswith("-----BEGIN")
        else load_der_public_key(base64.b64decode(raw))
    )
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an ECDSA public key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey | None, body: bytes, signature: str | None, timestamp: str | None
) -> None:
    if key is None:
        raise BadSignature("not_configured")
    if not signature or not timestamp:
        raise BadSignature("unsigned")
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise BadSignature("bad_signature") from None


def verify_mailgun(signing_key: bytes | None, body: Any) -> None:
    if signing_key is None:
        raise BadSignature("not_configured")
    signed = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(signed, dict) or not all(
        isinstance(signed.get(k), str | int) for k in ("timestamp", "token", "signature")
    ):
        raise BadSignature("unsigned")
    message = f"{signed['timestamp']}{signed['token']}".encode()
    expected = hmac.new(signing_key, message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signed["signature"])):
        raise BadSignature("bad_signature")


@dataclass(frozen=True, slots=True)
class Mapped:
    records: list[Record]
    ignored: int  # platform events the scorer has no type for (processed, deferred, ...)
    invalid: int  # events without what an email event needs


def _lead(custom_lead: Any, email: Any, secret: bytes) -> str | None:
    if valid_lead_id(custom_lead):
        return str(custom_lead)
    if isinstance(email, str) and "@" in email:
        return lead_id_from_email(email, secret)
    return None


def _when(epoch: Any) -> str:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _email_record(fields: dict[str, Any]) -> Record | None:
    try:
        model = EmailEvent.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError:
        return None
    value = orjson.dumps(model.model_dump(mode="json", exclude_none=True))
    return Record(contract.EMAIL_EVENTS, model.lead_id, value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None


def map_sendgrid(events: Any, secret: bytes) -> Mapped:
    """SendGrid's Event Webhook array → email events. Custom args `lead_id` and
    `campaign_id` are used when set; otherwise the lead is the recipient's keyed hash and
    the campaign the single send, marketing campaign or first category."""
    records: list[Record] = []
    ignored = invalid = 0
    for event in events if isinstance(events, list) else []:
        name = event.get("event") if isinstance(event, dict) else None
        kind = _SENDGRID_TYPES.get(name) if isinstance(name, str) else None
        if kind is None:
            ignored += 1
            continue
        campaign = (
            event.get("campaign_id") or event.get("singlesend_id")
            or event.get("marketing_campaign_id") or _first(event.get("category"))
            or event.get("category") or "sendgrid"
        )  # fmt: skip
        record = _email_record({
            "event_id": f"sg-{event.get('sg_event_id')}" if event.get("sg_event_id") else None,
            "lead_id": _lead(event.get("lead_id"), event.get("email"), secret),
            "occurred_at": _when(event.get("timestamp")),
            "type": kind[0], "campaign_id": str(campaign)[:128],
            "email_id": str(event.get("sg_message_id") or "")[:128] or None,
            "url": event.get("url") if kind[0] == "email.click" else None,
            "bounce_type": kind[1],
        })  # fmt: skip
        if record is None:
            invalid += 1
        else:
            records.append(record)
    return Mapped(records, ignored, invalid)


def map_mailgun(body: Any, secret: bytes) -> Mapped:
    """Mailgun's webhook JSON (one event per request) → an email event. User variable
    `lead_id` and the first campaign or tag are used when set."""
    data = body.get("event-data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return Mapped([], 0, 1)
    name = data.get("event")
    kind = _MAILGUN_TYPES.get(name) if isinstance(name, str) else None
    if name == "failed":
        kind = ("email.bounce", "hard" if data.get("severity") == "permanent" else "soft")
    if kind is None:
        return Mapped([], 1, 0)
    variables = _dict(data.get("user-variables"))
    campaign = (
        variables.get("campaign_id") or _first(data.get("campaigns")) or _first(data.get("tags"))
        or "mailgun"
    )  # fmt: skip
    if isinstance(campaign, dict):
        campaign = campaign.get("id") or campaign.get("name") or "mailgun"
    headers = _dict(_dict(data.get("message")).get("headers"))
    record = _email_record({
        "event_id": f"mg-{data.get('id')}" if data.get("id") else None,
        "lead_id": _lead(variables.get("lead_id"), data.get("recipient"), secret),
        "occurred_at": _when(data.get("timestamp")),
        "type": kind[0], "campaign_id": str(campaign)[:128],
        "email_id": str(headers.get("message-id") or "")[:128] or None,
        "url": data.get("url") if kind[0] == "email.click" else None,
        "bounce_type": kind[1],
    })  # fmt: skip
    return Mapped([record], 0, 0) if record else Mapped([], 0, 1)
