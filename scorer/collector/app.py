"""The collector's aiohttp application and its process (`scorer collect`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from importlib.resources import files

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scorer.collector import requests as rq
from scorer.collector.endpoints import Endpoints
from scorer.collector.forms import FormsFileError, load_forms
from scorer.collector.metrics import CollectorMetrics
from scorer.collector.ratelimit import TokenBuckets
from scorer.collector.sink import KafkaSink
from scorer.collector.webhooks import sendgrid_key
from scorer.settings import ConfigError, Settings

log = logging.getLogger("scorer.collector")
TRACKER_JS = files("scorer.collector").joinpath("static/tracker.js").read_bytes()
_SINK: web.AppKey[KafkaSink] = web.AppKey("sink", KafkaSink)


def build_app(settings: Settings, metrics: CollectorMetrics | None = None) -> web.Application:
    """The application; configuration mistakes raise ConfigError naming the setting."""
    metrics = metrics or CollectorMetrics()
    options = rq.CollectorOptions.from_settings(settings)
    if settings.collector_lead_id_secret is None:
        raise ConfigError(
            "SCORER_COLLECTOR_LEAD_ID_SECRET: required by scorer collect (a long random "
            "string; lead ids derived from email addresses are keyed with it)"
        )
    secret = settings.collector_lead_id_secret.get_secret_value().encode()
    if len(secret) < 16:
        raise ConfigError("SCORER_COLLECTOR_LEAD_ID_SECRET: use at least 16 characters")
    try:
        forms = load_forms(settings.collector_forms_file)
    except FormsFileError as exc:
        raise ConfigError(f"SCORER_COLLECTOR_FORMS_FILE: {exc}") from None
    key = None
    if settings.collector_sendgrid_public_key:
        try:
            key = sendgrid_key(settings.collector_sendgrid_public_key)
        except (ValueError, TypeError):
            raise ConfigError(
                "SCORER_COLLECTOR_SENDGRID_PUBLIC_KEY: not an ECDSA public key (base64 DER or PEM)"
            ) from None
    mailgun = settings.collector_mailgun_signing_key
    sink = KafkaSink(settings, metrics)
    endpoints = Endpoints(
        options, sink, metrics, forms, secret,
        TokenBuckets(settings.collector_visitor_rate, settings.collector_visitor_burst),
        TokenBuckets(settings.collector_address_rate, settings.collector_address_burst),
        key, mailgun.get_secret_value().encode() if mailgun else None,
    )  # fmt: skip
    # aiohttp refuses larger bodies itself too (413); the endpoints count them.
    app = web.Application(client_max_size=settings.collector_max_body_bytes)
    app[_SINK] = sink

    async def preflight(request: web.Request) -> web.Response:
        headers = rq.cors_headers(request, options)
        if not headers:
            metrics.requests.labels("preflight", "rejected").inc()
            metrics.rejected.labels("preflight", "forbidden_origin").inc()
            return web.Response(status=403)
        headers.update({
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        })  # fmt: skip
        return web.Response(status=204, headers=headers)

    async def tracker(_: web.Request) -> web.Response:
        return web.Response(body=TRACKER_JS, content_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=300"})  # fmt: skip

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(_: web.Request) -> web.Response:
        if sink.ready:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "why": "broker not acknowledging"}, status=503)

    async def prometheus(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(metrics.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app.router.add_get("/p.gif", endpoints.pixel)
    app.router.add_post("/v1/events", endpoints.events)
    app.router.add_post("/v1/forms/{form_id}", endpoints.form)
    app.router.add_post("/v1/webhooks/sendgrid", endpoints.sendgrid)
    app.router.add_post("/v1/webhooks/mailgun", endpoints.mailgun)
    app.router.add_route("OPTIONS", "/v1/{tail:.*}", preflight)
    app.router.add_get("/tracker.js", tracker)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", prometheus)
    app.on_startup.append(_start_sink)
    app.on_cleanup.append(_stop_sink)
    return app


async def _start_sink(app: web.Application) -> None:
    await app[_SINK].start()


async def _stop_sink(app: web.Application) -> None:
    await app[_SINK].stop()


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT)."""
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.collector_host, settings.collector_port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"SCORER_COLLECTOR_PORT: cannot listen on {settings.collector_host}:"
            f"{settings.collector_port} ({exc.strerror})"
        ) from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("collector listening on http://%s:%s", settings.collector_host,
             settings.collector_port)  # fmt: skip
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_collector(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    asyncio.run(serve(settings))
