"""Kafka connectivity checks and idempotent topic creation from the contracts."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)

from scorer.contracts.topics import TopicSpec, load_topics
from scorer.settings import ConfigError, Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client the scorer makes."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_username
        options["sasl_plain_password"] = (
            settings.kafka_password.get_secret_value() if settings.kafka_password else None
        )
    if settings.kafka_security_protocol.endswith("SSL"):
        options["ssl_context"] = ssl_context(settings)
    return options


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the brokers' certificates and host names against SCORER_KAFKA_SSL_CAFILE,
    else the system's trust store."""
    from aiokafka.helpers import create_ssl_context

    cafile = settings.kafka_ssl_cafile
    if cafile is not None and not cafile.is_file():
        raise ConfigError(f"SCORER_KAFKA_SSL_CAFILE: no such file: {cafile}")
    context: ssl.SSLContext = create_ssl_context(cafile=str(cafile) if cafile else None)
    return context


async def check_broker(settings: Settings, timeout_s: float = 10.0) -> None:
    """Fail with a one-line `ConfigError` naming the setting when Kafka does not answer."""
    admin = AIOKafkaAdminClient(
        **client_options(settings), request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
    except (KafkaError, OSError, TimeoutError, KeyError, ValueError) as exc:
        raise ConfigError(_broker_error(settings, exc)) from None
    finally:
        await admin.close()


async def startup_warnings(settings: Settings, timeout_s: float = 2.0) -> list[str]:
    """What a worker should say at start without refusing to run: input topics that do
    not exist, a Redis that does not answer (scoring goes on without the read model).
    A Redis that refuses the credentials raises a one-line `ConfigError` instead."""
    from scorer.contracts.topics import input_topics
    from scorer.serving.redis_check import check_redis

    warnings: list[str] = []
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    for spec in input_topics():
        name = settings.topic(spec.name)
        if name not in existing:
            warnings.append(
                f"input topic {name} does not exist: nothing arrives from it "
                "until it is created (scorer topics apply)"
            )
    problem = await check_redis(settings, timeout_s)
    if problem is not None:
        warnings.append(problem)
    return warnings


def check_broker_quietly(settings: Settings) -> None:
    """`check_broker` without aiokafka's own connection-error log lines (the one-line
    `ConfigError` says it all)."""
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        asyncio.run(check_broker(settings))
    finally:
        aiokafka_log.setLevel(level)


# What a refused SASL login raises in aiokafka 0.14: the broker's error codes, and from
# its SCRAM client a KeyError('v') (the server's final message carries an error, e=...,
# instead of its signature) or a ValueError (a wrong server signature).
_LOGIN_REFUSED = (
    AuthenticationFailedError, AuthenticationMethodNotSupported, IllegalSaslStateError,
    SaslAuthenticationFailed, UnsupportedSaslMechanismError, KeyError, ValueError,
)  # fmt: skip


def _broker_error(settings: Settings, exc: BaseException) -> str:
    where = settings.kafka_bootstrap
    if settings.kafka_security_protocol.startswith("SASL") and isinstance(exc, _LOGIN_REFUSED):
        return (
            f"SCORER_KAFKA_PASSWORD: Kafka at {where} refused the SASL login "
            f"({settings.kafka_sasl_mechanism}; check SCORER_KAFKA_USERNAME and the password)"
        )
    reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
    return f"SCORER_KAFKA_BOOTSTRAP: cannot reach Kafka at {where} ({reason})"


@dataclass(frozen=True, slots=True)
class TopicReport:
    name: str
    action: str  # created, exists, mismatch


def deployed_partitions(spec: TopicSpec, settings: Settings) -> int:
    return settings.partitions if spec.keyed_by_entity else spec.partitions


async def apply_topics(settings: Settings) -> list[TopicReport]:
    """Create every contract topic that is missing; report the ones that differ.

    Existing topics are never repartitioned automatically: adding partitions moves keys
    to other partitions and would split a lead's state, so a mismatch is reported.
    """
    await check_broker(settings)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = await admin.describe_topics()
        partitions_by_name = {t["topic"]: len(t["partitions"]) for t in existing}
        reports: list[TopicReport] = []
        for spec in load_topics():
            name = settings.topic(spec.name)
            wanted = deployed_partitions(spec, settings)
            if name in partitions_by_name:
                have = partitions_by_name[name]
                action = (
                    "exists" if have == wanted else f"mismatch: {have} partitions, want {wanted}"
                )
                reports.append(TopicReport(name, action))
                continue
            topic = NewTopic(
                name, wanted, settings.replication_factor, topic_configs=spec.kafka_configs()
            )
            try:
                await admin.create_topics([topic])
                reports.append(TopicReport(name, "created"))
            except TopicAlreadyExistsError:
                reports.append(TopicReport(name, "exists"))
        return reports
    finally:
        await admin.close()
