"""Start-up check of the read model's Redis: wrong credentials or TLS fail closed, an
unreachable Redis is only a warning (scoring goes on; the read model catches up)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, ResponseError

from scorer.settings import ConfigError, Settings, redact_url


async def check_redis(settings: Settings, timeout_s: float = 2.0) -> str | None:
    """None when Redis answers a PING. Raises a one-line `ConfigError` naming the setting
    when Redis rejects the credentials in SCORER_REDIS_URL or the TLS handshake fails;
    returns a warning (no credentials in it) when Redis does not answer."""
    client = Redis.from_url(
        settings.redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    where = redact_url(settings.redis_url)
    refused = ConfigError(
        f"SCORER_REDIS_URL: Redis at {where} refused the credentials (AuthenticationError)"
    )
    try:
        await client.ping()
    except AuthenticationError:
        raise refused from None
    except ResponseError as exc:
        # NOAUTH/WRONGPASS from servers or proxies that answer them as plain errors.
        if str(exc).upper().startswith(("NOAUTH", "WRONGPASS")):
            raise refused from None
        return _unreachable(settings.redis_url, type(exc).__name__)
    except ConnectionError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc):
            raise ConfigError(
                f"SCORER_REDIS_URL: TLS handshake with Redis at {where} failed"
            ) from None
        return _unreachable(settings.redis_url, type(exc).__name__)
    except (TimeoutError, OSError, RedisError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        return _unreachable(settings.redis_url, reason)
    finally:
        await client.aclose()
    return None


def _unreachable(url: str, reason: str) -> str:
    options = parse_url(url)
    where = str(options.get("path") or f"{options.get('host', '?')}:{options.get('port', 6379)}")
    return (
        f"SCORER_REDIS_URL: cannot reach Redis at {where} ({reason}); scoring goes on and "
        "the read model is written when Redis answers"
    )
