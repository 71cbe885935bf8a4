"""Form submissions → a profile update, a `web.form_submit` event and an identity link.

The mapping file (SCORER_COLLECTOR_FORMS_FILE) names, per form id, which submitted field
becomes which profile attribute. Fields it does not name are dropped unread, so a form's
name or phone number never leaves the collector. The email address only ever becomes a
keyed hash (the lead id) and its domain.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scorer.collector.identity import (
    anonymous_lead_id,
    email_domain,
    lead_id_from_email,
    valid_lead_id,
)
from scorer.collector.intake import Record, Rejection, field_of, message_of
from scorer.contracts import topics as contract
from scorer.contracts.events import FormSubmit, ProfileUpdate
from scorer.contracts.identity import IdentityLink

# Hidden fields tracker.js adds to a form (and a site may set itself).
VISITOR_INPUT = "_visitor_id"
LEAD_INPUT = "_lead_id"
REDIRECT_INPUT = "_redirect"
SPECIAL_TARGETS = frozenset({"email", "lead_id"})
_PROFILE_FIELDS = frozenset(ProfileUpdate.model_fields) - {
    "event_id", "lead_id", "account_id", "occurred_at", "type", "custom",
}  # fmt: skip
_BOOL_WORDS = {
    "true": True, "yes": True, "on": True, "1": True, "はい": True, "あり": True,
    "false": False, "no": False, "off": False, "0": False, "いいえ": False, "なし": False,
}  # fmt: skip
_INT_FIELDS = frozenset({"employee_count"})
_BOOL_FIELDS = frozenset({"budget", "authority", "need"})
_FIRST_NUMBER = re.compile(r"\d[\d,]*")


class FormsFileError(Exception):
    """The form-mapping file is wrong; str() names the file and the key."""


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(description="Profile attribute, custom.<name>, email or lead_id.")
    values: dict[str, str | int | bool] | None = Field(
        None, description="Submitted value → attribute value (others pass unchanged)."
    )

    @field_validator("to")
    @classmethod
    def _known_target(cls, value: str) -> str:
        if value in SPECIAL_TARGETS or value in _PROFILE_FIELDS:
            return value
        if value.startswith("custom.") and len(value) > len("custom."):
            return value
        known = ", ".join(sorted(_PROFILE_FIELDS | SPECIAL_TARGETS))
        raise ValueError(f"unknown target (one of {known} or custom.<name>)")


class FormSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_form_id: str | None = Field(None, description="form_id of the event (default: the id).")
    product: str | None = None
    redirect: str | None = Field(None, description="Where a plain HTML form returns to.")
    required: list[str] = Field(default_factory=list, description="Submitted fields required.")
    fields: dict[str, FieldMapping] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"to": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class FormsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    forms: dict[str, FormSpec] = Field(default_factory=dict)


def load_forms(path: Path) -> FormsFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise FormsFileError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise FormsFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return FormsFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise FormsFileError(f"{path}: {where}: {message}") from None


@dataclass(frozen=True, slots=True)
class Submission:
    form_id: str
    fields: dict[str, str]
    visitor_id: str
    now: datetime
    secret: bytes
    page_url: str | None = None


@dataclass(frozen=True, slots=True)
class FormOutcome:
    records: list[Record]
    lead_id: str


def _convert(target: str, raw: str, mapping: FieldMapping) -> Any:
    value: Any = raw.strip()
    if mapping.values and value in mapping.values:
        return mapping.values[value]
    if target in _INT_FIELDS:
        number = _FIRST_NUMBER.search(value)
        return int(number[0].replace(",", "")) if number else value
    if target in _BOOL_FIELDS:
        return _BOOL_WORDS.get(value.lower(), value)
    return value


def map_submission(spec: FormSpec, submission: Submission) -> FormOutcome | Rejection:
    """The records a submission produces, or the first field that is wrong."""
    fields = submission.fields
    for name in spec.required:
        if not fields.get(name, "").strip():
            return Rejection(0, name, "required", "missing_field")
    profile, email, given_lead, by_target = _gather(spec, fields)
    email_lead: str | None = None
    if email is not None:
        domain = email_domain(email)
        if domain is None:
            return Rejection(0, by_target["email"], "not an email address", "schema")
        profile.setdefault("email_domain", domain)
        email_lead = lead_id_from_email(email, submission.secret)
    if given_lead is not None and not valid_lead_id(given_lead):
        name = by_target.get("lead_id", LEAD_INPUT)
        return Rejection(
            0, name, "must be 1-128 letters, digits, '.', '_', ':' or '-'", "bad_lead_id"
        )
    anonymous = anonymous_lead_id(submission.visitor_id)
    lead_id = given_lead or email_lead or anonymous
    when = submission.now.isoformat()
    base = {"lead_id": lead_id, "occurred_at": when}
    records: list[Record] = []
    if profile:
        try:
            update = ProfileUpdate.model_validate(
                {
                    **base,
                    "event_id": f"form-{uuid.uuid4().hex}",
                    "type": "profile.updated",
                    **profile,
                }
            )
        except ValidationError as exc:
            error = exc.errors(include_input=False, include_url=False)[0]
            target = field_of(error)
            return Rejection(0, by_target.get(target, target), message_of(error), "schema")
        records.append(_record(contract.PROFILE_UPDATES, lead_id, update))
    submit = FormSubmit.model_validate(
        {**base, "event_id": _event_id(), "type": "web.form_submit",
         "form_id": spec.event_form_id or submission.form_id, "product": spec.product,
         "url": _path_of(submission.page_url)}
    )  # fmt: skip
    records.append(_record(contract.WEB_EVENTS, lead_id, submit))
    if lead_id != anonymous:
        link = IdentityLink(
            type="identity.link", link_id=f"link-{uuid.uuid4().hex}",
            visitor_id=submission.visitor_id, anonymous_lead_id=anonymous, lead_id=lead_id,
            email_lead_id=email_lead if email_lead not in (None, lead_id) else None,
            method="form", form_id=submission.form_id, occurred_at=submission.now,
        )  # fmt: skip
        records.append(_record(contract.IDENTITY_LINKS, lead_id, link))
    return FormOutcome(records, lead_id)


def _gather(
    spec: FormSpec, fields: dict[str, str]
) -> tuple[dict[str, Any], str | None, str | None, dict[str, str]]:
    """Profile attributes, the email, a known lead id and which field gave each target."""
    profile: dict[str, Any] = {}
    email: str | None = None
    given_lead: str | None = fields.get(LEAD_INPUT) or None
    by_target: dict[str, str] = {}
    for name, mapping in spec.fields.items():
        raw = fields.get(name)
        if raw is None or not raw.strip():
            continue
        by_target[mapping.to] = name
        if mapping.to == "email":
            email = raw
        elif mapping.to == "lead_id":
            given_lead = raw.strip()
        else:
            profile[mapping.to] = _convert(mapping.to, raw, mapping)
    return profile, email, given_lead, by_target


def _event_id() -> str:
    return f"form-{uuid.uuid4().hex}"


def _path_of(url: str | None) -> str | None:
    """Only the path of the page the form was on (a query string may carry personal data)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    return path[:2048] or None


def _record(topic: str, key: str, model: BaseModel) -> Record:
    return Record(topic, key, orjson.dumps(model.model_dump(mode="json", exclude_none=True)))
