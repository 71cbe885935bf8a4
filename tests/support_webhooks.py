"""Real-shaped SendGrid and Mailgun webhook payloads, signed as the platforms sign them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A signing key and its verification key as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def sendgrid_headers(private: ec.EllipticCurvePrivateKey, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def sendgrid_events(lead_id: str, tag: str) -> list[dict[str, Any]]:
    """An Event Webhook POST as SendGrid documents it (custom args at the top level)."""
    now = int(time.time())
    base = {"sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.{tag}",
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "category": ["newsletter"],
            "campaign_id": "nl-2026-11"}  # fmt: skip
    return [
        {**base, "email": "taro@example.co.jp", "timestamp": now, "event": "processed",
         "sg_event_id": f"{tag}-processed"},
        {**base, "email": "taro@example.co.jp", "timestamp": now, "event": "delivered",
         "sg_event_id": f"{tag}-delivered", "response": "250 OK", "lead_id": lead_id},
        {**base, "email": "taro@example.co.jp", "timestamp": now, "event": "open",
         "sg_event_id": f"{tag}-open", "useragent": "Mozilla/5.0", "ip": "255.255.255.255",
         "lead_id": lead_id},
        {**base, "email": "taro@example.co.jp", "timestamp": now, "event": "click",
         "sg_event_id": f"{tag}-click", "url": "https://www.example.com/pricing",
         "url_offset": {"index": 0, "type": "html"}, "lead_id": lead_id},
        {**base, "email": "hanako@example.co.jp", "timestamp": now, "event": "bounce",
         "sg_event_id": f"{tag}-bounce", "reason": "500 unknown recipient", "status": "5.0.0",
         "type": "bounce", "bounce_classification": "Invalid Address"},
        {**base, "email": "jiro@example.co.jp", "timestamp": now, "event": "spamreport",
         "sg_event_id": f"{tag}-spam"},
    ]  # fmt: skip


def mailgun_body(event: str, lead_id: str | None, tag: str, key: str = MAILGUN_KEY,
                 **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A Mailgun webhook POST (JSON), signed with `key`."""
    timestamp = str(int(time.time()))
    token = hashlib.sha256(tag.encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    data: dict[str, Any] = {
        "event": event, "id": f"{tag}-{event}", "timestamp": time.time(),
        "recipient": "taro@example.co.jp", "recipient-domain": "example.co.jp",
        "tags": ["newsletter"], "campaigns": [],
        "message": {"headers": {"message-id": f"20261124.{tag}@mg.example.com",
                                "to": "taro@example.co.jp", "subject": "News"}},
        "user-variables": {"lead_id": lead_id} if lead_id else {},
        "log-level": "info", **extra,
    }  # fmt: skip
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": data}  # fmt: skip


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)
