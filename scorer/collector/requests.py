"""Request plumbing shared by the endpoints: client address, visitor id and its cookie,
CORS, body reading within the size limit, JSON and form decoding with named errors."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from scorer.collector.identity import new_visitor_id, valid_visitor_id
from scorer.settings import ConfigError, Settings

VISITOR_COOKIE = "sc_vid"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
JSON_TYPES = frozenset({"application/json", "text/plain"})
FORM_TYPE = "application/x-www-form-urlencoded"
KNOWN_CATEGORIES = frozenset({"web", "email", "seminar", "profile", "feedback"})
_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$"
)


class RequestError(Exception):
    """Answered as `status` with {"error", "field"}; `reason` labels the metric."""

    def __init__(self, status: int, reason: str, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.reason = reason
        self.error = error
        self.field = field

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error}
        if self.field:
            body["field"] = self.field
        return web.json_response(body, status=self.status)


@dataclass(frozen=True, slots=True)
class CollectorOptions:
    """What the endpoints read from the settings, parsed once."""

    allowed_origins: frozenset[str]
    categories: frozenset[str]
    max_body: int
    trust_forwarded: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectorOptions:
        def split(text: str) -> frozenset[str]:
            return frozenset(p.strip().rstrip("/") for p in text.split(",") if p.strip())

        origins = split(settings.collector_allowed_origins)
        for origin in sorted(origins):
            if not _ORIGIN.match(origin):
                raise ConfigError(
                    f"SCORER_COLLECTOR_ALLOWED_ORIGINS: {origin!r} is not an origin "
                    "(scheme://host[:port], e.g. https://www.example.com)"
                )
        categories = split(settings.collector_event_types)
        unknown = sorted(categories - KNOWN_CATEGORIES)
        if unknown:
            raise ConfigError(
                f"SCORER_COLLECTOR_EVENT_TYPES: unknown category {unknown[0]!r} "
                f"(one of {', '.join(sorted(KNOWN_CATEGORIES))})"
            )
        return cls(
            origins,
            categories,
            settings.collector_max_body_bytes,
            settings.collector_trust_forwarded,
        )


def client_address(request: web.Request, options: CollectorOptions) -> str:
    if options.trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"


def is_https(request: web.Request, options: CollectorOptions) -> bool:
    if options.trust_forwarded and "X-Forwarded-Proto" in request.headers:
        return request.headers["X-Forwarded-Proto"].split(",")[-1].strip() == "https"
    return request.secure


def cookie_visitor(request: web.Request) -> str | None:
    value = request.cookies.get(VISITOR_COOKIE)
    return value if valid_visitor_id(value) else None


def resolve_visitor(request: web.Request, claimed: object) -> str:
    """The visitor id the page sent, else the collector's cookie, else a new one."""
    if valid_visitor_id(claimed):
        return str(claimed)
    return cookie_visitor(request) or new_visitor_id()


def set_visitor_cookie(
    request: web.Request, response: web.StreamResponse, visitor_id: str, options: CollectorOptions
) -> None:
    """First-party visitor cookie: a year, SameSite=Lax, Secure over HTTPS, not for scripts."""
    if cookie_visitor(request) == visitor_id:
        return
    response.set_cookie(
        VISITOR_COOKIE, visitor_id, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True,
        samesite="Lax", secure=is_https(request, options),
    )  # fmt: skip


def origin_allowed(request: web.Request, options: CollectorOptions) -> bool:
    """Requests without an Origin (servers, <img> pixels) pass; browsers' must be listed."""
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") in options.allowed_origins


def cors_headers(request: web.Request, options: CollectorOptions) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None or origin.rstrip("/") not in options.allowed_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def media_type(request: web.Request) -> str:
    return request.content_type.lower()


async def read_body(request: web.Request, options: CollectorOptions) -> bytes:
    declared = request.content_length
    if declared is not None and declared > options.max_body:
        raise RequestError(413, "oversized", f"body larger than {options.max_body} bytes", "body")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestError(
            413, "oversized", f"body larger than {options.max_body} bytes", "body"
        ) from None
    if len(body) > options.max_body:
        raise RequestError(413, "oversized", f"body larger than {options.max_body} bytes", "body")
    return body


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise RequestError(400, "empty", "empty body", "body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "bad_encoding", "body is not valid UTF-8", "body") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = "too_deep" if "depth" in str(exc).lower() else "not_json"
        message = "JSON nested too deeply" if reason == "too_deep" else "body is not valid JSON"
        raise RequestError(400, reason, message, "body") from None


def decode_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=200)
    except UnicodeDecodeError:
        raise RequestError(400, "bad_encoding", "body is not valid UTF-8", "body") from None
    except ValueError:
        raise RequestError(400, "too_many_fields", "more than 200 fields", "body") from None
    return {k: v for k, v in pairs}


def monotonic() -> float:
    return time.monotonic()
