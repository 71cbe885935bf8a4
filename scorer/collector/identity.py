"""Visitor ids and lead ids: opaque, bounded, and never an email address."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
LEAD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)$")
ANONYMOUS_PREFIX = "anon:"  # the scorer's form (scorer/core/identity.py)


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def valid_visitor_id(value: object) -> bool:
    return isinstance(value, str) and VISITOR_ID.match(value) is not None


def valid_lead_id(value: object) -> bool:
    return isinstance(value, str) and LEAD_ID.match(value) is not None


def anonymous_lead_id(visitor_id: str) -> str:
    """The lead id a visitor's events carry until a link names the lead (docs/identity.md)."""
    return ANONYMOUS_PREFIX + visitor_id


def email_domain(email: str) -> str | None:
    """The domain part of a plausible email address, lower-cased; None if it is not one."""
    match = _EMAIL.match(email.strip())
    return match[1].lower() if match else None


def lead_id_from_email(email: str, secret: bytes) -> str:
    """A keyed hash: the same address always gives the same lead id, and without the secret
    the id cannot be turned back into the address (or checked against a list of them)."""
    normalized = email.strip().lower().encode()
    digest = hmac.new(secret, normalized, hashlib.sha256).hexdigest()
    return f"lead-{digest[:32]}"
