"""The collector's endpoints: pixel, events, forms and email-platform webhooks."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from aiohttp import web

from scorer.collector import requests as rq
from scorer.collector.bots import is_bot
from scorer.collector.forms import (
    REDIRECT_INPUT,
    VISITOR_INPUT,
    FormOutcome,
    FormsFile,
    Submission,
    map_submission,
)
from scorer.collector.intake import (
    MAX_EVENTS_PER_REQUEST,
    Rejection,
    Sender,
    normalize_event,
    normalize_events,
)
from scorer.collector.metrics import CollectorMetrics
from scorer.collector.ratelimit import TokenBuckets
from scorer.collector.sink import KafkaSink, Unavailable
from scorer.collector.webhooks import (
    SENDGRID_SIGNATURE,
    SENDGRID_TIMESTAMP,
    BadSignature,
    Mapped,
    map_mailgun,
    map_sendgrid,
    verify_mailgun,
    verify_sendgrid,
)
from scorer.contracts.topics import IDENTITY_LINKS

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_PIXEL_FIELDS = {
    "type": "type", "url": "url", "ref": "referrer", "lead": "lead_id", "eid": "event_id",
    "asset_id": "asset_id", "asset_type": "asset_type", "product": "product",
    "form_id": "form_id", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "account": "account_id",
}  # fmt: skip
RETRY_AFTER_S = "5"


class Endpoints:
    def __init__(
        self,
        options: rq.CollectorOptions,
        sink: KafkaSink,
        metrics: CollectorMetrics,
        forms: FormsFile,
        secret: bytes,
        visitors: TokenBuckets,
        addresses: TokenBuckets,
        sendgrid_key: Any,
        mailgun_key: bytes | None,
    ) -> None:
        self.options = options
        self.sink = sink
        self.metrics = metrics
        self.forms = forms
        self.secret = secret
        self.visitors = visitors
        self.addresses = addresses
        self.sendgrid_key = sendgrid_key
        self.mailgun_key = mailgun_key

    # -- shared steps ---------------------------------------------------------------------

    def _count(self, endpoint: str, outcome: str, reason: str | None = None) -> None:
        self.metrics.requests.labels(endpoint, outcome).inc()
        if reason is not None:
            self.metrics.rejected.labels(endpoint, reason).inc()

    def _screen(self, request: web.Request, endpoint: str) -> str | None:
        """Origin, crawler and per-address checks of browser endpoints: the outcome that
        stops the request (forbidden_origin, bot, rate_limited), or None."""
        if not rq.origin_allowed(request, self.options):
            self._count(endpoint, "rejected", "forbidden_origin")
            return "forbidden_origin"
        if is_bot(request.headers.get("User-Agent")):
            self.metrics.bots.labels(endpoint).inc()
            self._count(endpoint, "bot")
            return "bot"
        if not self.addresses.take(rq.client_address(request, self.options), rq.monotonic()):
            self.metrics.rate_limited.labels(endpoint, "address").inc()
            self._count(endpoint, "rate_limited")
            return "rate_limited"
        return None

    def _visitor_allows(self, endpoint: str, visitor: str, cost: int) -> bool:
        if self.visitors.take(visitor, rq.monotonic(), cost=float(cost)):
            return True
        self.metrics.rate_limited.labels(endpoint, "visitor").inc()
        self._count(endpoint, "rate_limited")
        return False

    def _headers(self, request: web.Request) -> dict[str, str]:
        return rq.cors_headers(request, self.options)

    def _refusal(
        self, request: web.Request, outcome: str, retry_after_s: float = 1.0
    ) -> web.Response:
        headers = self._headers(request)
        if outcome == "forbidden_origin":
            return web.json_response({"error": "origin not allowed"}, status=403)
        if outcome == "bot":
            return web.Response(status=204, headers=headers)
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
        return web.json_response({"error": "rate limit exceeded"}, status=429, headers=headers)

    def _visitor_refusal(self, request: web.Request, visitor: str, cost: int) -> web.Response:
        return self._refusal(request, "rate_limited", self.visitors.retry_after(visitor, cost))

    def _unavailable(self, endpoint: str, request: web.Request) -> web.Response:
        self._count(endpoint, "unavailable")
        headers = {**self._headers(request), "Retry-After": RETRY_AFTER_S}
        return web.json_response({"error": "broker unavailable, retry later"}, status=503,
                                 headers=headers)  # fmt: skip

    def _bad(self, endpoint: str, request: web.Request, error: rq.RequestError) -> web.Response:
        self._count(endpoint, "rejected", error.reason)
        response = error.response()
        response.headers.update(self._headers(request))
        return response

    # -- GET /p.gif -----------------------------------------------------------------------

    async def pixel(self, request: web.Request) -> web.Response:
        response = web.Response(body=GIF, content_type="image/gif",
                                headers={"Cache-Control": "no-store, max-age=0"})  # fmt: skip
        if self._screen(request, "pixel") is not None:
            return response
        query = request.query
        visitor = rq.resolve_visitor(request, query.get("vid"))
        rq.set_visitor_cookie(request, response, visitor, self.options)
        event: dict[str, Any] = {"type": "web.page_view"}
        event.update({field: query[name] for name, field in _PIXEL_FIELDS.items() if name in query})
        sender = Sender(visitor, datetime.now(UTC), frozenset({"web"}))
        outcome = normalize_event(0, event, sender)
        if isinstance(outcome, Rejection):
            self._count("pixel", "rejected", outcome.reason)
            return response
        if not self._visitor_allows("pixel", visitor, 1):
            return response
        try:
            await self.sink.send([outcome])
        except Unavailable:
            self._count("pixel", "unavailable")
            return response
        self._count("pixel", "accepted")
        return response

    # -- POST /v1/events ------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.Response:
        endpoint = "events"
        stopped = self._screen(request, endpoint)
        if stopped is not None:
            return self._refusal(request, stopped)
        try:
            if rq.media_type(request) not in rq.JSON_TYPES:
                raise rq.RequestError(
                    415, "wrong_content_type", "send application/json or text/plain", "Content-Type"
                )
            body = rq.decode_json(await rq.read_body(request, self.options))
            if isinstance(body, list) and not body:
                raise rq.RequestError(400, "empty", "empty array", "body")
            if isinstance(body, list) and len(body) > MAX_EVENTS_PER_REQUEST:
                raise rq.RequestError(
                    413, "too_many_events", f"more than {MAX_EVENTS_PER_REQUEST} events", "body"
                )
        except rq.RequestError as error:
            return self._bad(endpoint, request, error)
        first = body[0] if isinstance(body, list) else body
        visitor = rq.resolve_visitor(
            request, first.get("visitor_id") if isinstance(first, dict) else None
        )
        sender = Sender(visitor, datetime.now(UTC), self.options.categories)
        records, rejections = normalize_events(body, sender)
        if not self._visitor_allows(endpoint, visitor, max(1, len(records))):
            return self._visitor_refusal(request, visitor, max(1, len(records)))
        try:
            await self.sink.send(records)
        except Unavailable:
            return self._unavailable(endpoint, request)
        for rejection in rejections:
            self.metrics.rejected.labels(endpoint, rejection.reason).inc()
        status = 400 if rejections else 200
        outcome = "partial" if rejections and records else "rejected" if rejections else "accepted"
        self._count(endpoint, outcome)
        # Events accepted (an identity link a tracked email click adds is not one).
        accepted = sum(r.topic != IDENTITY_LINKS for r in records)
        answer: dict[str, Any] = {"accepted": accepted}
        if rejections:
            answer["rejected"] = [r.to_json() for r in rejections]
        response = web.Response(
            body=orjson.dumps(answer), status=status, content_type="application/json",
            headers=self._headers(request),
        )  # fmt: skip
        rq.set_visitor_cookie(request, response, visitor, self.options)
        return response

    # -- POST /v1/forms/{form_id} ---------------------------------------------------------

    async def form(self, request: web.Request) -> web.StreamResponse:
        endpoint = "forms"
        stopped = self._screen(request, endpoint)
        if stopped is not None:
            return self._refusal(request, stopped)
        form_id = request.match_info["form_id"]
        spec = self.forms.forms.get(form_id)
        kind = rq.media_type(request)
        try:
            if spec is None:
                raise rq.RequestError(404, "unknown_form", "no such form", "form_id")
            if kind == rq.FORM_TYPE:
                fields = rq.decode_form(await rq.read_body(request, self.options))
            elif kind in rq.JSON_TYPES:
                fields = _string_fields(rq.decode_json(await rq.read_body(request, self.options)))
            else:
                raise rq.RequestError(415, "wrong_content_type",
                                      "send a urlencoded form or JSON", "Content-Type")  # fmt: skip
        except rq.RequestError as error:
            return self._bad(endpoint, request, error)
        visitor = rq.resolve_visitor(request, fields.get(VISITOR_INPUT))
        submission = Submission(form_id, fields, visitor, datetime.now(UTC), self.secret,
                                request.headers.get("Referer"))  # fmt: skip
        outcome = map_submission(spec, submission)
        if isinstance(outcome, Rejection):
            refusal = rq.RequestError(400, outcome.reason, outcome.error, outcome.field)
            return self._bad(endpoint, request, refusal)
        if not self._visitor_allows(endpoint, visitor, 1):
            return self._visitor_refusal(request, visitor, 1)
        try:
            await self.sink.send(outcome.records)
        except Unavailable:
            return self._unavailable(endpoint, request)
        self._count(endpoint, "accepted")
        wanted = fields.get(REDIRECT_INPUT) or spec.redirect
        response = self._form_answer(request, kind, wanted, outcome)
        rq.set_visitor_cookie(request, response, visitor, self.options)
        return response

    def _form_answer(
        self, request: web.Request, kind: str, wanted: str | None, outcome: FormOutcome
    ) -> web.StreamResponse:
        if kind == rq.FORM_TYPE and "application/json" not in request.headers.get("Accept", ""):
            target = safe_redirect(wanted, request.headers.get("Referer"),
                                   self.options.allowed_origins)  # fmt: skip
            if target is not None:
                return web.HTTPSeeOther(target)
            return web.Response(text=_THANKS, content_type="text/html")
        return web.json_response({"accepted": len(outcome.records)},
                                 headers=self._headers(request))  # fmt: skip

    # -- webhooks -------------------------------------------------------------------------

    async def sendgrid(self, request: web.Request) -> web.Response:
        async def verify(body: bytes, _: Any) -> None:
            verify_sendgrid(self.sendgrid_key, body, request.headers.get(SENDGRID_SIGNATURE),
                            request.headers.get(SENDGRID_TIMESTAMP))  # fmt: skip

        return await self._webhook(request, "sendgrid", verify, map_sendgrid)

    async def mailgun(self, request: web.Request) -> web.Response:
        async def verify(_: bytes, parsed: Any) -> None:
            verify_mailgun(self.mailgun_key, parsed)

        return await self._webhook(request, "mailgun", verify, map_mailgun)

    async def _webhook(
        self, request: web.Request, provider: str, verify: Any, mapper: Any
    ) -> web.Response:
        endpoint = f"webhook_{provider}"
        try:
            if rq.media_type(request) != "application/json":
                raise rq.RequestError(415, "wrong_content_type", "send application/json",
                                      "Content-Type")  # fmt: skip
            body = await rq.read_body(request, self.options)
            parsed: Any = None
            if provider == "mailgun":
                parsed = rq.decode_json(body)
            await verify(body, parsed)
            if parsed is None:
                parsed = rq.decode_json(body)
        except BadSignature as refused:
            self._count(endpoint, "unauthorized", str(refused))
            status = 404 if str(refused) == "not_configured" else 401
            return web.json_response({"error": f"webhook refused: {refused}"}, status=status)
        except rq.RequestError as error:
            return self._bad(endpoint, request, error)
        mapped: Mapped = mapper(parsed, self.secret)
        if mapped.ignored:
            self.metrics.webhook_events_ignored.labels(provider).inc(mapped.ignored)
        if mapped.invalid:
            self.metrics.rejected.labels(endpoint, "schema").inc(mapped.invalid)
        try:
            await self.sink.send(mapped.records)
        except Unavailable:
            return self._unavailable(endpoint, request)
        self._count(endpoint, "accepted")
        return web.json_response(
            {"accepted": len(mapped.records), "ignored": mapped.ignored, "invalid": mapped.invalid}
        )


def _string_fields(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise rq.RequestError(400, "schema", "must be a JSON object", "body")
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode()
            for k, v in body.items() if v is not None}  # fmt: skip


def safe_redirect(wanted: str | None, referer: str | None, allowed: frozenset[str]) -> str | None:
    """Where a plain HTML form may go back to: a path on the form page's origin (when that
    origin is allowed) or a URL on an allowed origin; never anywhere else (open redirect)."""
    page_origin = _origin(referer) if referer else None
    base = page_origin if page_origin in allowed else None
    if wanted:
        if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted:
            return urljoin(base, wanted) if base else None
        if _origin(wanted) in allowed:
            return wanted
        return None
    return referer if base else None


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


_THANKS = (
    "<!doctype html><meta charset=utf-8><title>Thank you</title>"
    "<p>Thank you, your form was received.</p>"
)
