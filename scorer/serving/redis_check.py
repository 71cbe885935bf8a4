"""Start-up check of the read model's Redis: wrong credentials or TLS fail closed."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, ResponseError

from scorer.settings import ConfigError, Settings, redact_url

log = logging.getLogger(__name__)


async def check_redis(settings: Settings, timeout_s: float = 5.0) -> None:
    """Refuse to start (a one-line `ConfigError` naming the setting) when Redis rejects
    the credentials in SCORER_REDIS_URL or the TLS handshake fails. An unreachable Redis
    is only logged: the read model is rebuilt when it answers, and scoring goes on."""
    client = Redis.from_url(
        settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    where = redact_url(settings.redis_url)
    try:
        await client.ping()
    except AuthenticationError as exc:
        raise ConfigError(
            f"SCORER_REDIS_URL: Redis at {where} refused the credentials ({type(exc).__name__})"
        ) from None
    except ResponseError as exc:
        # NOAUTH/WRONGPASS from servers or proxies that answer them as plain errors.
        if str(exc).upper().startswith(("NOAUTH", "WRONGPASS")):
            raise ConfigError(
                f"SCORER_REDIS_URL: Redis at {where} refused the credentials (AuthenticationError)"
            ) from None
        log.warning("Redis at %s: start-up check failed (%s)", where, type(exc).__name__)
    except ConnectionError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            raise ConfigError(
                f"SCORER_REDIS_URL: TLS handshake with Redis at {where} failed"
            ) from None
        log.warning(
            "Redis at %s does not answer (%s); scoring goes on, the read model is "
            "written when it does", where, type(exc).__name__,
        )  # fmt: skip
    except RedisError as exc:
        log.warning("Redis at %s: start-up check failed (%s)", where, type(exc).__name__)
    finally:
        await client.aclose()
