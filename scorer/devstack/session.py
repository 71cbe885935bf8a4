"""`scorer dev`: the whole pipeline on one machine, with hand-off alerts shown live."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from rich.console import Console

from scorer.contracts import topics as contract
from scorer.devstack.demo import (
    DEMO_LEAD,
    DemoPorts,
    collector_overrides,
    collector_process,
    demo_ports,
)
from scorer.devstack.processes import ManagedProcess, StackError
from scorer.devstack.servers import DevStack, free_port
from scorer.settings import Settings, env_name, load_settings, redact_url
from scorer.simulator import Population, simulate

ROUND_S = 120.0


@dataclass(frozen=True, slots=True)
class DevOptions:
    kafka: str | None
    redis: str | None
    leads: int
    accounts: int
    rate: float
    seed: int


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker subprocess exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORER_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[env_name(name)] = str(plain)
    return env


def servers_line(kafka: str, redis_url: str, pids: dict[str, int]) -> str:
    """The banner line about the servers; a password in the Redis URL is masked."""
    return (
        f"[bold]kafka[/] {kafka} (pid {pids.get('kafka', 'external')})   "
        f"[bold]redis[/] {redact_url(redis_url)} (pid {pids.get('redis', 'external')})"
    )


# A day of rules time per minute, so the demo shows SLA escalations (4 h → 10 s) and the
# case-study mail (2 days → 2 min) within a coffee; SCORER_TIME_SCALE overrides it.
DEV_TIME_SCALE = 1 / 1440


def run_dev(options: DevOptions, console: Console | None = None) -> None:
    console = console or Console()
    scale = {} if env_name("time_scale") in os.environ else {"time_scale": DEV_TIME_SCALE}
    ports = demo_ports()
    with DevStack(options.kafka, options.redis) as stack:
        settings = load_settings(
            kafka_bootstrap=stack.kafka_bootstrap,
            redis_url=stack.redis_url,
            app_id=f"lead-scorer-dev-{os.getpid()}",
            web_port=free_port(),
            data_dir=stack.workdir / "data",
            **stack.client_overrides(),
            **scale,
            **collector_overrides(ports),
        )
        console.print(servers_line(stack.kafka_bootstrap, stack.redis_url, stack.pids()))
        log_path = Path(stack.workdir) / "worker.log"
        worker = ManagedProcess(
            "scorer worker",
            [sys.executable, "-m", "scorer", "worker"],
            env=worker_env(settings),
            log_path=log_path,
        )
        collector = collector_process(worker_env(settings), stack.workdir)
        try:
            from scorer.stream.admin import apply_topics

            asyncio.run(apply_topics(settings))
            worker.start()
            console.print(
                f"[bold]worker[/] pid {worker.pid}, metrics http://{settings.web_host}:"
                f"{settings.web_port}/metrics, log {log_path}"
            )
            collector.start()
            collector.wait_until(lambda: _ready(ports.collector_url), 30, "ready")
            console.print(
                f"[bold]collector[/] pid {collector.pid}, {ports.collector_url} "
                f"(log {stack.workdir / 'collector.log'})   [bold]demo site[/] {ports.site_url}"
            )
            console.print(
                f"[bold]Open {ports.journey_url}[/] (a known lead's link), click through: "
                "pricing a few times, the case study, the contact form; watch your own lead "
                "cross the line below."
            )
            console.print(
                f"simulating traffic; rules time runs {1 / settings.time_scale:,.0f}x "
                "(SCORER_TIME_SCALE); hand-off alerts and scenario actions appear below. "
                "Ctrl-C stops everything."
            )
            asyncio.run(_live(settings, options, worker, console, ports))
        except KeyboardInterrupt:
            console.print("\nstopping…")
        except StackError as exc:
            _show_log_tail(console, log_path)
            raise exc from None
        finally:
            collector.stop(timeout_s=10)
            worker.stop(timeout_s=10)
    console.print("stopped: broker, Redis, worker and collector are gone.")


def _ready(base_url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base_url + "/ready", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _show_log_tail(console: Console, path: Path, lines: int = 20) -> None:
    with contextlib.suppress(OSError):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        console.print(f"[dim]last lines of {path}:[/]")
        for line in tail:
            console.print(f"[dim]  {line}[/]", markup=False, highlight=False)


async def _live(
    settings: Settings,
    options: DevOptions,
    worker: ManagedProcess,
    console: Console,
    ports: DemoPorts,
) -> None:
    from scorer.collector.demo_site import serve_demo
    from scorer.simulator_io import publish

    async def traffic() -> None:
        for round_no in range(1_000_000):
            population = Population(options.leads, options.accounts, seed=options.seed + round_no)
            await publish(settings, simulate(population, time.time(), ROUND_S, options.rate))

    async def watch_worker() -> None:
        while worker.exit_code() is None:  # noqa: ASYNC110 - a child process has no event
            await asyncio.sleep(0.5)
        raise StackError(f"the scorer worker exited with code {worker.exit_code()}")

    tasks = [
        asyncio.create_task(traffic()),
        asyncio.create_task(show_alerts(settings, console)),
        asyncio.create_task(watch_worker()),
        asyncio.create_task(serve_demo(ports.collector_url, ports.site, asyncio.Event())),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def show_alerts(settings: Settings, console: Console) -> None:
    from scorer.stream.admin import client_options

    alerts = settings.topic(contract.HANDOFF_ALERTS)
    zone = display_zone(settings.rules_file)
    consumer = AIOKafkaConsumer(
        alerts, settings.topic(contract.ACTIONS), **client_options(settings),
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    try:
        async for message in consumer:
            record = orjson.loads(message.value)
            if record.get("type") == "erasure":
                # Written to both topics: show it once, from the hand-off topic.
                if message.topic == alerts:
                    console.print(f"[bold magenta]ERASED[/] {record.get('lead_id')}")
                continue
            if message.topic == alerts:
                line = format_alert(record, zone)
            else:
                line = format_action(record, zone)
            console.print(line)
            if message.topic == alerts and record.get("lead_id") == DEMO_LEAD:
                console.print(f"  [bold magenta]↑ your demo lead[/] why: {all_reasons(record)}")
    finally:
        await consumer.stop()


def display_zone(rules_file: str | Path) -> tzinfo | None:
    """The zone the terminal shows times in: the rules' `time_zone`, else None (the
    user's local zone, from TZ or the system)."""
    from scorer.rules import RulesError, load_rules

    try:
        name = load_rules(rules_file).time_zone
    except RulesError:
        return None  # the worker reports the rules file's problems
    return None if name is None else ZoneInfo(name)


def clock(stamp: object, zone: tzinfo | None = None) -> str:
    """An RFC 3339 time as `HH:MM:SS` in `zone` (None: local), with the zone's name."""
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return "--:--:--"
    local = parsed.astimezone(zone) if zone is not None else parsed.astimezone()
    return local.strftime("%H:%M:%S %Z")


def format_action(action: dict[str, Any], zone: tzinfo | None = None) -> str:
    """One terminal line for a scenario action: when, what, for whom, with what."""
    when = clock(action.get("emitted_at", ""), zone)
    params = ", ".join(f"{k}={v}" for k, v in (action.get("params") or {}).items())
    return (
        f"{when} [bold cyan]{action.get('kind', '?')}[/] {action.get('lead_id')} "
        f"({params})  [dim]scenario:[/] {action.get('scenario_id')}"
    )


def all_reasons(alert: dict[str, Any]) -> str:
    return ", ".join(
        f"{r.get('label') or r.get('rule_id')} {float(r.get('points', 0)):+.0f}"
        for r in alert.get("reasons") or []
    )


def format_alert(alert: dict[str, Any], zone: tzinfo | None = None) -> str:
    """One terminal line: when, what, who, how hot, routed where, and why (the reasons
    that pushed it over; an account's name the contact each came from)."""
    reasons: list[dict[str, Any]] = alert.get("reasons") or []
    why = ", ".join(
        f"{r.get('label') or r.get('rule_id')} {float(r.get('points', 0)):+.0f}"
        + (f" ({r['contact']})" if r.get("contact") else "")
        for r in reasons[:3]
    )
    kind = str(alert.get("kind", "?")).upper()
    when = clock(alert.get("emitted_at", ""), zone)
    if kind == "SLA_BREACHED":
        return (
            f"{when} [bold red]SLA BREACHED[/] {alert.get('lead_id')}: no answer from "
            f"{alert.get('team') or '-'} by the deadline of {alert.get('handoff_alert_id')}"
        )
    if alert.get("lead_id"):
        who = f"{alert['lead_id']} @ {alert.get('account_id') or '-'}"
    else:
        contacts = alert.get("contacts") or []
        who = f"{alert.get('account_id')} ({len(contacts)} contacts: {', '.join(contacts[:3])})"
    score = float(alert.get("score", 0))
    grade = alert.get("grade") or "-"
    return (
        f"{when} [bold green]{kind:4}[/] {who}  score [bold]{score:.1f}[/] {grade}  "
        f"→ {alert.get('team') or '-'}  [dim]why:[/] {why}"
    )
