"""Settings of the scorer: the only module that reads the environment.

Every field is documented; `scorer settings` prints them as a table and the README's
configuration table is generated from the same descriptions.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SCORER_"
DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
DEFAULT_FORMS_FILE = Path(__file__).resolve().parent.parent / "forms" / "default.yaml"


class ConfigError(Exception):
    """A setting is wrong; str() is a one-line message naming the setting."""


class Settings(BaseSettings):
    """Runtime settings, from `SCORER_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_file=".env"
    )

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol; SASL_SSL for managed clusters."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_max_batch_bytes: int = Field(
        16384,
        ge=1,
        description=(
            "Producer batch size limit. 1 = one record per batch, needed on the embedded "
            "Tansu broker, which reports a wrong end offset after multi-record batches."
        ),
    )
    kafka_fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        le=30000,
        description=(
            "Longest a consumer fetch waits for data (Kafka answers as soon as data arrives; "
            "the embedded Tansu broker holds every fetch this long, so the dev stack uses 100)."
        ),
    )
    kafka_session_timeout_s: float = Field(
        10.0,
        ge=1,
        le=300,
        description=(
            "Consumer group session timeout: a worker silent this long loses its partitions "
            "to the others (failover time). Kafka refuses less than its "
            "group.min.session.timeout.ms (6 s by default); the embedded Tansu broker also "
            "waits half of it to form a group, so the tests use less there."
        ),
    )
    kafka_username: str | None = Field(None, description="SASL user name.")
    kafka_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_ssl_cafile: Path | None = Field(
        None,
        description=(
            "PEM file of the CA that signs the brokers' certificates (SSL, SASL_SSL); "
            "default: the system's trust store."
        ),
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL of the read model (redis://, rediss:// for TLS, unix://).",
    )
    redis_key_prefix: str = Field("scorer:", description="Prefix of every Redis key written.")
    app_id: str = Field(
        "lead-scorer",
        description="Consumer group id and prefix of the state changelog topics.",
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
    )
    topic_prefix: str = Field(
        "",
        description="Prepended to every topic name (isolates environments sharing a cluster).",
        pattern=r"^[A-Za-z0-9._-]{0,100}$",
    )
    partitions: int = Field(
        4, ge=1, le=1024, description="Partitions of the lead- and account-keyed topics."
    )
    replication_factor: int = Field(1, ge=1, le=16, description="Replication of created topics.")
    rules_file: Path = Field(DEFAULT_RULES_FILE, description="Scoring rules YAML file.")
    web_host: str = Field("127.0.0.1", description="Address the worker's HTTP server binds.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /metrics, /health, /ready.")
    web_token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token GET /leads and /accounts require (Authorization: Bearer ...); "
            "set one whenever the HTTP port is reachable beyond loopback."
        ),
    )
    web_advertised_host: str | None = Field(
        None,
        description=(
            "Host other workers reach this one's HTTP port at (routed /leads and /accounts "
            "lookups); default: SCORER_WEB_HOST, or this host's address if that is 0.0.0.0 or ::."
        ),
    )
    store: Literal["memory://", "rocksdb://"] = Field(
        "memory://", description="Table store; rocksdb:// (needs rocksdict) for large lead counts."
    )
    data_dir: Path = Field(Path("data"), description="Worker data directory (RocksDB tables).")
    rocksdb_cache_mb: int = Field(
        16,
        ge=1,
        description=(
            "Block cache of each RocksDB table partition, in MB (Faust's default is 2 GB "
            "each); the hot states stay decoded in the worker and the OS caches the files."
        ),
    )
    rocksdb_write_buffer_mb: int = Field(
        8,
        ge=1,
        description=(
            "Write buffer of each RocksDB table partition, in MB, two at most (Faust's "
            "default: three of 64 MB)."
        ),
    )
    bulk_recovery: bool = Field(
        True,
        description=(
            "Recover tables by reading each changelog partition in whole fetches into the "
            "store (many times faster than Faust's record-by-record path); false: Faust's own."
        ),
    )
    max_event_bytes: int = Field(
        65536, ge=256, description="Larger input messages go to the dead-letter topic."
    )
    redis_flush_interval_s: float = Field(
        0.2, gt=0, le=60, description="How often batched read-model writes go to Redis."
    )
    time_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        description=(
            "Multiplies the rules' scenario delays and repeat periods, inactivity periods, "
            "SLA deadlines and the lost cool-off (not decay, caps, lateness or threshold "
            "cooldowns); 0.0000115741 (1/86400) turns days into seconds "
            "for demos and tests."
        ),
    )
    timer_tick_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a worker checks its partitions for due scenario and SLA timers.",
    )
    checkpoint_interval_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description=(
            "How often a worker writes the lead and account states changed since the last "
            "checkpoint to its changelogs (one record per changed key) and lets the offsets "
            "of the events they cover be committed; 0: after every batch. Longer: fewer "
            "changelog records; a crash replays more events."
        ),
    )
    state_cache_keys: int = Field(
        10000,
        ge=0,
        description=(
            "Decoded states a worker keeps per table (leads, accounts, visitors), most "
            "recently used first; every other state is held as its encoded changelog "
            "record and decoded when its next event comes. More: less CPU, more memory."
        ),
    )
    state_compression: bool = Field(
        True,
        description=(
            "Write table states (and so their changelog records) deflate-compressed with a "
            "preset dictionary, ~4x smaller than their JSON; `false` writes JSON. Both are "
            "always read; a version before compression reads only JSON, so a rolling "
            "upgrade from one runs with `false` until every worker is upgraded."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Worker log level."
    )
    # The HTTP collector (`scorer collect`); see docs/collector.md.
    collector_host: str = Field("127.0.0.1", description="Address the HTTP collector binds.")
    collector_port: int = Field(
        8088, ge=1, le=65535, description="Port of the HTTP collector (pixel, events, forms)."
    )
    collector_allowed_origins: str = Field(
        "",
        description=(
            "Comma-separated origins (https://www.example.com) allowed to call the collector "
            "from a browser (CORS) and to be redirected back to after a form; empty = none."
        ),
    )
    collector_max_body_bytes: int = Field(
        65536, ge=256, le=10_485_760, description="Largest request body the collector reads."
    )
    collector_forms_file: Path = Field(
        DEFAULT_FORMS_FILE, description="Form-field mapping YAML of POST /v1/forms/{form_id}."
    )
    collector_lead_id_secret: SecretStr | None = Field(
        None,
        description=(
            "Key of the HMAC that turns an email address into a lead id (never logged); "
            "required by scorer collect."
        ),
    )
    collector_sendgrid_public_key: str | None = Field(
        None,
        description="SendGrid Event Webhook verification key (base64 DER or PEM, ECDSA P-256).",
    )
    collector_mailgun_signing_key: SecretStr | None = Field(
        None, description="Mailgun webhook signing key (HMAC-SHA256; never logged)."
    )
    collector_event_types: str = Field(
        "web",
        description=(
            "Event categories POST /v1/events accepts (comma-separated: web, email, seminar, "
            "profile, feedback); browsers should only send web."
        ),
    )
    collector_visitor_rate: float = Field(
        5.0, gt=0, description="Events per second a visitor may send, sustained (token bucket)."
    )
    collector_visitor_burst: int = Field(
        60, ge=1, description="Events a visitor may send at once before the rate applies."
    )
    collector_address_rate: float = Field(
        50.0, gt=0, description="Requests per second one client address may make, sustained."
    )
    collector_address_burst: int = Field(
        300, ge=1, description="Requests one client address may make at once."
    )
    collector_trust_forwarded: bool = Field(
        False,
        description=(
            "Take the client address and scheme from X-Forwarded-For/-Proto (the last hop); "
            "only behind a load balancer that sets them."
        ),
    )
    collector_idempotent: bool = Field(
        True,
        description=(
            "Idempotent producer (no duplicates from the collector's own retries); the "
            "embedded Tansu broker lacks it, so the dev stack turns it off."
        ),
    )
    collector_linger_ms: int = Field(
        1,
        ge=0,
        le=1000,
        description=(
            "How long the collector holds accepted events to send them grouped per topic and "
            "partition as one envelope (requests are answered after the ack; 0 = per request)."
        ),
    )
    collector_envelope_max_events: int = Field(
        100,
        ge=1,
        le=10000,
        description=(
            "Most events in one envelope the collector sends (a fuller one goes out before "
            "the linger ends, as does one that would pass SCORER_MAX_EVENT_BYTES)."
        ),
    )
    collector_produce_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Longest a request waits for the broker's ack before answering 503.",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        from redis.asyncio.connection import parse_url

        try:
            parse_url(value)
        except ValueError as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        return value

    @property
    def kafka_url(self) -> str:
        """The bootstrap list in Faust's `kafka://` URL form."""
        return ";".join(f"kafka://{s.strip()}" for s in self.kafka_bootstrap.split(","))

    @property
    def web_canonical_url(self) -> str:
        """Where other workers send the lookups this worker owns."""
        host = self.web_advertised_host or self.web_host
        if host in _WILDCARD_HOSTS:
            # In a container every replica binds 0.0.0.0; its own address is what differs.
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:  # a host name that does not resolve: the name itself
                host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.web_port}"

    def topic(self, name: str) -> str:
        """The deployed name of a contract topic."""
        return f"{self.topic_prefix}{name}"


_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


def redact_url(url: str) -> str:
    """The URL with its password (in the authority or a `password=` query parameter)
    replaced by `***`, for printing."""
    base, mark, query = url.partition("?")
    if query:
        pairs = [(k, "***" if k == "password" else v) for k, v in parse_qsl(query)]
        query = urlencode(pairs, safe="*")
    parts = urlsplit(base)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        base = urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))
    return base + mark + query


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _unknown_settings(environ: Mapping[str, str]) -> list[str]:
    known = {env_name(name) for name in Settings.model_fields}
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def _dotenv() -> dict[str, str]:
    """The `.env` file of the working directory (what pydantic-settings reads too)."""
    path = Path(".env")
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(environ: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
    """Build the settings, turning every problem into a one-line `ConfigError` (an
    unknown SCORER_* name in the environment or in `.env` too)."""
    environ = os.environ if environ is None else environ
    unknown = _unknown_settings(environ) or [f"{k} (in .env)" for k in _unknown_settings(_dotenv())]
    if unknown:
        known = [env_name(name) for name in Settings.model_fields]
        hint = difflib.get_close_matches(unknown[0].split()[0].upper(), known, n=1)
        suggestion = f" (did you mean {hint[0]}?)" if hint else ""
        raise ConfigError(f"unknown setting {unknown[0]}{suggestion}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = env_name(field) if field in Settings.model_fields else field
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, Path) and default.is_absolute():
            default = default.relative_to(DEFAULT_RULES_FILE.parent.parent)
        rows.append(
            (env_name(name), "" if default is None else str(default), info.description or "")
        )
    return rows


def settings_in_effect(environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str, str]]:
    """(environment variable, value in effect, where it came from: env, .env or default,
    description) of every setting; secrets masked. Bad settings raise `ConfigError`."""
    environ = os.environ if environ is None else environ
    settings = load_settings(environ)
    given = {k.upper() for k in environ}
    in_dotenv = {k.upper() for k in _dotenv()}
    rows = []
    for name, info in Settings.model_fields.items():
        variable = env_name(name)
        source = "env" if variable in given else ".env" if variable in in_dotenv else "default"
        rows.append((variable, _shown(getattr(settings, name)), source, info.description or ""))
    return rows


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(_ROOT):
        return str(value.relative_to(_ROOT))
    text = str(value)
    if "://" in text and "@" in text:  # a URL with credentials (redis://user:pass@host)
        scheme, _, rest = text.partition("://")
        credentials, _, host = rest.rpartition("@")
        user = credentials.partition(":")[0]
        return f"{scheme}://{user + ':' if user else ':'}********@{host}"
    return text


_ROOT = DEFAULT_RULES_FILE.parent.parent
