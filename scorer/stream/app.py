"""The Faust application: built by a factory so tests get fresh, isolated apps."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.auth import SASLCredentials, SSLCredentials
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from scorer.contracts import topics as contract
from scorer.core import Rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import Settings
from scorer.stream.admin import client_options, ssl_context
from scorer.stream.handlers import ScorerContext
from scorer.stream.log_redaction import install_record_redaction
from scorer.stream.workarounds.eager_delivery import EagerDeliveryMixin
from scorer.stream.workarounds.producer_buffer import DrainingProducerMixin
from scorer.stream.workarounds.recovery import ScorerTableManager
from scorer.stream.workarounds.recovery_bulk import BulkReadOptions


@dataclass(slots=True)
class ScorerApp:
    app: faust.App
    context: ScorerContext
    registry: CollectorRegistry


class ScorerFaustApp(DrainingProducerMixin, EagerDeliveryMixin, faust.App):
    """Faust's app with a producer buffer that drains before offsets are committed, a
    consumer that hands a fetched message to the agents without a task per message, a
    recovery that seeks stream partitions before fetching them (all in `workarounds/`),
    and callbacks run once every child service (agents, consumer, producer) has stopped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("TableManager", ScorerTableManager)
        super().__init__(*args, **kwargs)
        self.after_shutdown: list[Callable[[], Awaitable[None]]] = []
        # How table recovery reads the changelogs in bulk; None: Faust's own path.
        self.bulk_recovery: BulkReadOptions | None = None

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        for callback in self.after_shutdown:
            await callback()


def _faust_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "broker": settings.kafka_url,
        "store": settings.store,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        # Faust binds `web_bind` (all interfaces unless set) and only advertises
        # `web_host`; the scorer binds where SCORER_WEB_HOST says and advertises
        # SCORER_WEB_ADVERTISED_HOST (see Settings.web_canonical_url).
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "canonical_url": settings.web_canonical_url,
        # /router/ lists every worker's address, /table/ serves table data: off. Routed
        # lookups (@table_route) use the assignment metadata, not these pages.
        "web_router_enabled": False,
        "web_tables_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "datadir": str(settings.data_dir / settings.app_id),
        "autodiscover": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "consumer_auto_offset_reset": "earliest",
        "processing_guarantee": "at_least_once",
        # A dev or test worker restarting must not wait a minute for its old session.
        "broker_session_timeout": settings.kafka_session_timeout_s,
        # Kafka wants heartbeats well inside the session: a third of it at most.
        "broker_heartbeat_interval": min(1.0, settings.kafka_session_timeout_s / 3),
        "producer_linger": 0.005,
        "producer_max_batch_size": settings.kafka_max_batch_bytes,
    }
    credentials = broker_credentials(settings)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


def broker_credentials(settings: Settings) -> SASLCredentials | SSLCredentials | None:
    """Faust's credentials for the security protocol. Faust derives the protocol from
    them: SASL credentials without an SSL context would connect as SASL_PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL"):
        password = settings.kafka_password
        return SASLCredentials(
            username=settings.kafka_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return SSLCredentials(context) if context is not None else None


def create_app(
    settings: Settings, rules: Rules, registry: CollectorRegistry | None = None
) -> ScorerApp:
    """Declare topics, tables, agents, timers and pages of one scorer worker."""
    from scorer.stream import agents, web

    install_record_redaction()
    registry = registry or CollectorRegistry()
    metrics = ScorerMetrics.create(registry)
    metrics.rules.info({"version": rules.version})
    app = ScorerFaustApp(settings.app_id, **_faust_options(settings))
    if settings.bulk_recovery:
        app.bulk_recovery = BulkReadOptions(client_options(settings))
    read_model = RedisReadModel(
        Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0),
        settings.redis_key_prefix,
        metrics,
    )
    context = ScorerContext.declare(app, settings, rules, metrics, read_model, clock=time.time)
    agents.register(app, context)
    web.register(app, context, registry)
    return ScorerApp(app=app, context=context, registry=registry)


__all__ = ["ScorerApp", "contract", "create_app"]
