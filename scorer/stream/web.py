"""HTTP on each worker: /metrics, /health (liveness), /ready, and current scores."""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from scorer.stream.handlers import ScorerContext
from scorer.stream.views import account_document, lead_document


def register(app: faust.App, ctx: ScorerContext, registry: CollectorRegistry) -> None:
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
    @app.table_route(table=ctx.lead_state_by_id, match_info="lead_id")
    async def lead(web: View, request: Request, lead_id: str) -> Response:
        state = ctx.lead_state_by_id.get(lead_id.encode())
        if state is None:
            return web.json({"error": "unknown lead"}, status=404)
        return web.json(lead_document(state, ctx.rules, ctx.clock()))

    @app.page("/accounts/{account_id}")
    @app.table_route(table=ctx.account_state_by_id, match_info="account_id")
    async def account(web: View, request: Request, account_id: str) -> Response:
        state = ctx.account_state_by_id.get(account_id.encode())
        if state is None:
            return web.json({"error": "unknown account"}, status=404)
        return web.json(account_document(state, ctx.rules, ctx.clock()))
