"""HTTP on each worker: /metrics, /health (liveness), /ready, and current scores."""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from scorer.stream.handlers import ScorerContext


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
