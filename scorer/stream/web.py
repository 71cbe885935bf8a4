"""HTTP on each worker: /metrics, /health (liveness), /ready, and current scores.

/leads and /accounts answer with a lead's or account's data and take the bearer token
SCORER_WEB_TOKEN when one is set; /health, /ready and /metrics carry no lead data (metric
labels never hold an id) and stay open, so probes and scrapers need no secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from scorer.stream.handlers import ScorerContext
from scorer.stream.views import account_document, lead_document

ViewFun = Callable[..., Awaitable[Response]]


def bearer_token_required(token: str | None) -> Callable[[ViewFun], ViewFun]:
    """Refuse a request without `Authorization: Bearer <token>` (401) before it is
    answered or routed to another worker (which checks it again: the header is kept)."""
    expected = f"Bearer {token}".encode() if token else None

    def decorate(view_fun: ViewFun) -> ViewFun:
        if expected is None:
            return view_fun

        @wraps(view_fun)
        async def checked(web: View, request: Request, *args: Any, **kwargs: Any) -> Response:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json(
                    {"error": "missing or wrong bearer token (SCORER_WEB_TOKEN)"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return await view_fun(web, request, *args, **kwargs)

        return checked

    return decorate


def register(app: faust.App, ctx: ScorerContext, registry: CollectorRegistry) -> None:
    token = ctx.settings.web_token
    authorized = bearer_token_required(token.get_secret_value() if token else None)

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        body = generate_latest(registry)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health")
    async def health(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        tables: Any = app.tables
        recovered = bool(tables.recovery.completed.is_set())
        assigned = bool(app.consumer.assignment()) if recovered else False
        body: dict[str, Any] = {"tables_recovered": recovered, "partitions_assigned": assigned}
        status = 200 if recovered and assigned else 503
        return web.json(body, status=status)

    @app.page("/leads/{lead_id}")
    @authorized
    @app.table_route(table=ctx.lead_state_by_id.table, match_info="lead_id")
    async def lead(web: View, request: Request, lead_id: str) -> Response:
        state = ctx.lead_state_by_id.get(lead_id.encode())
        if state is None:
            return web.json({"error": "unknown lead"}, status=404)
        return web.json(lead_document(state, ctx.rules, ctx.clock()))

    @app.page("/accounts/{account_id}")
    @authorized
    @app.table_route(table=ctx.account_state_by_id.table, match_info="account_id")
    async def account(web: View, request: Request, account_id: str) -> Response:
        state = ctx.account_state_by_id.get(account_id.encode())
        if state is None:
            return web.json({"error": "unknown account"}, status=404)
        return web.json(account_document(state, ctx.rules, ctx.clock()))
