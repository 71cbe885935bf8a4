"""A deployment that is closed by default and prints no personal data or secret.

One module, one Redis with a password and two workers at debug level (so every log line
Faust and the scorer can write is written), fed leads whose ids spread over both workers
plus personal data: an email address as a field name and as a value, a phone number, a
company name. Then: every lead answers on either worker (routed lookups, bearer token),
Faust's /router/ and /table/ pages are gone, the HTTP server listens on loopback only, a
wrong Redis password and a refused SASL login stop the worker with one line, and no
output of the run (logs, dead-letter headers, metrics, printed lines) holds the personal
data or a secret.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.devstack import ManagedProcess, free_port
from scorer.devstack.servers import LOOPBACK, broker_binary, redis_binary
from scorer.devstack.session import worker_env
from scorer.settings import Settings, load_settings
from scorer.stream.admin import apply_topics
from tests.support import (
    Servers,
    WorkerProcess,
    isolated_settings,
    produce,
    read_topic,
    run,
    stop_all,
    wait_for,
)

pytestmark = pytest.mark.integration

REDIS_PASSWORD = "redis-Secret-4f9a1c"  # noqa: S105 - the known secret grepped for
SASL_PASSWORD = "sasl-Secret-77b2e0"  # noqa: S105
WEB_TOKEN = "web-Token-0c3d58"  # noqa: S105
EMAIL = "hanako.sato@example.co.jp"
PHONE = "+81-3-5555-0123"
COMPANY = "Yamabiko Trading KK"
# What must never appear in an output: the personal data and the secrets (the token is a
# secret too: it may appear only in the requests the test itself sends).
NEVER_PRINTED = {
    "email": "hanako.sato",
    "phone": "5555-0123",
    "company": "Yamabiko",
    "redis password": REDIS_PASSWORD,
    "sasl password": SASL_PASSWORD,
    "web token": WEB_TOKEN,
}
LEADS = [f"lead-{n:03d}" for n in range(24)]


@dataclass
class Run:
    settings: Settings
    workers: list[WorkerProcess]
    redis_port: int


def _personal_events(now: float) -> list[dict[str, Any]]:
    base = {"lead_id": "lead-000", "occurred_at": rfc3339(now - 5)}
    profile = {**base, "type": "profile.updated"}
    return [
        {**profile, "event_id": "pii-1", "company": COMPANY, "title": EMAIL,
         "custom": {"phone": PHONE}},
        {**profile, "event_id": "pii-2", EMAIL: "yes", "company": COMPANY},  # email as a key
        {**profile, "event_id": "pii-3", "custom": {EMAIL: [PHONE]}},        # email as custom key
        {**profile, "event_id": "pii-4", "employee_count": PHONE},           # phone as bad value
        {**base, "event_id": "pii-5", "type": "web.page_view", "url": f"/c?e={EMAIL}",
         "lead_id": EMAIL},                                                   # email as lead id
    ]  # fmt: skip


def _views(now: float) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{lead}-v{n}", "lead_id": lead, "type": "web.page_view",
         "occurred_at": rfc3339(now - 20 + n), "url": "/pricing"}
        for lead in LEADS for n in range(2)
    ]  # fmt: skip


def _topic_of(event: dict[str, Any]) -> str:
    return contract.PROFILE_UPDATES if event["type"] == "profile.updated" else contract.WEB_EVENTS


@pytest.fixture(scope="module")
def scored(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("closed")
    redis_port = free_port()
    redis = ManagedProcess(
        "redis-server (requirepass)",
        [
            redis_binary(), "--bind", LOOPBACK, "--port", str(redis_port), "--save", "",
            "--appendonly", "no", "--dir", str(workdir), "--requirepass", REDIS_PASSWORD,
        ],
        log_path=workdir / "redis.log",
    )  # fmt: skip
    redis.start()
    workers: list[WorkerProcess] = []
    try:
        redis.wait_until(lambda: _redis_answers(redis_port), 30, "ready")
        settings = isolated_settings(
            servers, workdir, partitions=4, log_level="debug",
            redis_url=f"redis://:{REDIS_PASSWORD}@{LOOPBACK}:{redis_port}/0",
            kafka_password=SASL_PASSWORD, kafka_username="scorer", web_token=WEB_TOKEN,
        )  # fmt: skip
        run(apply_topics(settings))
        for name in ("first", "second"):
            port = settings.web_port if name == "first" else free_port()
            worker = WorkerProcess(
                settings.model_copy(update={"web_port": port}), workdir / f"{name}.log"
            )
            workers.append(worker)
        # Started together: the second joining later would rebalance the first mid-test.
        for worker in workers:
            worker.process.start()
        for worker in workers:
            wait_for(lambda w=worker: _status(w, "/ready") == 200, 90, "a worker ready")
        wait_for(
            lambda: all(w.metric("scorer_assigned_partitions") > 0 for w in workers),
            60, "both workers to own partitions",
        )  # fmt: skip
        now = time.time()
        events = _views(now) + _personal_events(now)
        run(
            produce(
                settings, [(_topic_of(e), e["lead_id"].encode(), orjson.dumps(e)) for e in events]
            )
        )
        applied = len(_views(now)) + 1  # pii-1 is valid; the other four are dead letters
        wait_for(
            lambda: sum(w.metric("scorer_events_total", result="applied") for w in workers)
            >= applied and sum(w.metric("scorer_dead_letters_total") for w in workers) >= 4,
            60, "every event scored or dead-lettered",
        )  # fmt: skip
        yield Run(settings, workers, redis_port)
    finally:
        stop_all(workers)
        redis.stop()


def _redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"-NOAUTH")
    except OSError:
        return False


def _request(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _status(worker: WorkerProcess, path: str, token: str | None = None) -> int:
    try:
        return _request(worker.base_url + path, token)[0]
    except OSError:
        return 0


def test_every_lead_answers_on_either_worker_with_the_token(scored: Run) -> None:
    owners = [w.metric("scorer_events_total", result="applied") for w in scored.workers]
    assert all(owners), f"both workers must score leads for routing to be tested: {owners}"
    for worker in scored.workers:
        for lead in LEADS:
            status, body = _request(f"{worker.base_url}/leads/{lead}", WEB_TOKEN)
            assert status == 200, (worker.base_url, lead, body[:200])
            assert orjson.loads(body)["lead_id"] == lead


def test_read_views_refuse_a_missing_or_wrong_token(scored: Run) -> None:
    worker = scored.workers[0]
    for token in (None, "wrong", WEB_TOKEN + "x"):
        status, body = _request(f"{worker.base_url}/leads/{LEADS[0]}", token)
        assert status == 401, (token, body)
        assert b"SCORER_WEB_TOKEN" in body
        assert _request(f"{worker.base_url}/accounts/acc-1", token)[0] == 401


def test_probes_and_metrics_are_open_and_faust_pages_are_off(scored: Run) -> None:
    worker = scored.workers[0]
    assert _status(worker, "/health") == 200
    assert _status(worker, "/ready") == 200
    assert _status(worker, "/metrics") == 200
    for path in ("/router/", "/table/", f"/table/lead-state/{LEADS[0]}", "/graph/", "/stats/"):
        assert _status(worker, path, WEB_TOKEN) == 404, path


def test_the_http_server_listens_on_loopback_only(scored: Run) -> None:
    for worker in scored.workers:
        listening = _listening_addresses(worker.settings.web_port)
        assert listening == {LOOPBACK}, listening


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on `port` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in reversed(raw)))
                else:
                    found.add(raw.hex())
    return found


def test_a_wrong_redis_password_stops_the_worker_with_one_line(scored: Run) -> None:
    for url in (
        f"redis://:not-{REDIS_PASSWORD}@{LOOPBACK}:{scored.redis_port}/0",
        f"redis://{LOOPBACK}:{scored.redis_port}/0",
    ):
        settings = scored.settings.model_copy(update={"redis_url": url, "web_port": free_port()})
        result = subprocess.run(
            [sys.executable, "-m", "scorer", "worker"], env=worker_env(settings),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("scorer: error: SCORER_REDIS_URL: Redis at redis://"), line
        assert "refused the credentials" in line
        assert REDIS_PASSWORD not in line


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_refused_sasl_login_stops_the_worker_with_one_line(
    mechanism: str, tmp_path: Path
) -> None:
    # The embedded broker with --authentication knows no user, so every login is refused:
    # the fail-closed path is real, a successful login cannot be shown here.
    port = free_port()
    url = f"tcp://{LOOPBACK}:{port}"
    broker = ManagedProcess(
        "tansu (--authentication)",
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--authentication"],
        stop_signal=signal.SIGINT, log_path=tmp_path / "tansu.log",
    )  # fmt: skip
    broker.start()
    try:
        broker.wait_until(lambda: _accepts(port), 30, "reachable")
        settings = load_settings(
            {}, kafka_bootstrap=f"{LOOPBACK}:{port}", kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism=mechanism, kafka_username="scorer",
            kafka_password=SASL_PASSWORD, web_port=free_port(), data_dir=tmp_path / "data",
        )  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "scorer", "worker"], env=worker_env(settings),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        broker.stop()
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.splitlines()
    assert line.startswith("scorer: error: SCORER_KAFKA_PASSWORD: Kafka at "), line
    assert f"refused the SASL login ({mechanism}" in line
    assert SASL_PASSWORD not in result.stdout + result.stderr


def _accepts(port: int) -> bool:
    import socket

    try:
        socket.create_connection((LOOPBACK, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_no_output_holds_personal_data_or_a_secret(scored: Run) -> None:
    outputs: dict[str, str] = {}
    for n, worker in enumerate(scored.workers):
        outputs[f"worker {n} log (debug)"] = worker.log_text()
        outputs[f"worker {n} /metrics"] = worker.metrics()
    letters = run(read_topic(scored.settings, contract.DEAD_LETTERS))
    assert len(letters) >= 4
    # Headers only: the dead letter's key and value are the input unchanged (see the
    # README on the dead-letter topic's retention).
    outputs["dead-letter headers"] = "\n".join(
        " ".join(f"{k}={bytes(v).decode()}" for k, v in letter.headers) for letter in letters
    )
    outputs["scorer settings"] = _scorer(scored.settings, "settings")
    outputs["scorer dev banner"] = _dev_banner(scored.settings)
    assert "DEBUG" in outputs["worker 0 log (debug)"], "the worker must log at debug level"
    leaks = [
        f"{what} in {where}"
        for where, text in outputs.items()
        for what, value in NEVER_PRINTED.items()
        if value.lower() in text.lower()
    ]
    assert not leaks, leaks


def _scorer(settings: Settings, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "scorer", *args], env=worker_env(settings),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout + result.stderr


def _dev_banner(settings: Settings) -> str:
    """The line `scorer dev --redis URL` prints about its servers, for a URL with a password."""
    from io import StringIO

    from rich.console import Console

    from scorer.devstack.session import servers_line

    console = Console(file=StringIO(), width=300)
    console.print(servers_line(settings.kafka_bootstrap, settings.redis_url, {}))
    output = str(console.file.getvalue())  # type: ignore[attr-defined]
    assert f"redis://:***@{LOOPBACK}:" in output, output
    return output
