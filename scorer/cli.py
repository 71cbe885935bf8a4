"""The `scorer` command. Commands only parse their arguments and delegate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scorer.settings import ConfigError, Settings, load_settings


class _Group(click.Group):
    """Turns known setup errors into one line on stderr and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from scorer.contracts.topics import ContractError
        from scorer.devstack import StackError

        known: tuple[type[Exception], ...] = (ConfigError, StackError, ContractError)
        try:
            from scorer.rules import RulesError

            known += (RulesError,)
        except ImportError:  # pragma: no cover - rules loader missing only mid-development
            pass
        try:
            return super().invoke(ctx)
        except known as exc:
            click.echo(f"scorer: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="lead-scorer")
def cli() -> None:
    """Real-time B2B lead scorer on Kafka."""


@cli.command()
def worker() -> None:
    """Run a scoring worker (settings from SCORER_* environment variables)."""
    from scorer.stream.worker import run_worker

    run_worker(load_settings())


@cli.command()
def collect() -> None:
    """Run the HTTP collector: pixel, events, forms, email webhooks, tracker.js."""
    from scorer.collector.app import run_collector

    run_collector(load_settings())


@cli.command()
@click.option("--kafka", metavar="HOST:PORT", help="Use this broker instead of starting one.")
@click.option("--redis", metavar="URL", help="Use this Redis instead of starting one.")
@click.option("--leads", default=300, show_default=True, help="Simulated leads.")
@click.option("--accounts", default=30, show_default=True, help="Accounts they belong to.")
@click.option("--rate", default=30.0, show_default=True, help="Background events per second.")
@click.option("--seed", default=7, show_default=True, help="Simulator seed.")
def dev(
    kafka: str | None, redis: str | None, leads: int, accounts: int, rate: float, seed: int
) -> None:
    """Start broker, Redis, a worker and the traffic simulator; show hand-off alerts live."""
    from scorer.devstack.session import DevOptions, run_dev

    run_dev(DevOptions(kafka, redis, leads, accounts, rate, seed))


@cli.group()
def topics() -> None:
    """Topic contracts in topics/."""


@topics.command("apply")
def topics_apply() -> None:
    """Create missing topics from topics/topics.yaml (idempotent)."""
    import asyncio

    from scorer.stream.admin import apply_topics

    for report in asyncio.run(apply_topics(load_settings())):
        click.echo(f"{report.name:45} {report.action}")


@topics.command("list")
def topics_list() -> None:
    """Print the contract topics."""
    from scorer.contracts.topics import load_topics

    for spec in load_topics():
        click.echo(
            f"{spec.name:32} {spec.role:8} {spec.partitions:>3}p  {spec.cleanup:7} {spec.doc}"
        )


@topics.command("schemas")
@click.option("--write", is_flag=True, help="Rewrite topics/schemas/ from the models.")
def topics_schemas(write: bool) -> None:
    """Check (or --write) the JSON Schemas in topics/schemas/ against the models."""
    from scorer.contracts.schemas import stale_schemas, write_schemas

    if write:
        for path in write_schemas():
            click.echo(f"wrote {path}")
        return
    stale = stale_schemas()
    if stale:
        raise ConfigError(f"stale schemas: {', '.join(stale)}; run: scorer topics schemas --write")
    click.echo("schemas up to date")


@cli.group()
def rules() -> None:
    """Scoring rules files."""


@rules.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def rules_check(file: Path) -> None:
    """Validate a rules file; errors name the field and the line."""
    from scorer.rules import load_rules

    loaded = load_rules(file)
    click.echo(f"{file}: ok (version {loaded.version})")


@cli.command("score-file")
@click.argument("events", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Rules file (default: SCORER_RULES_FILE or rules/default.yaml).",
)  # fmt: skip
@click.option(
    "--at", "as_of", default=None,
    help="Report scores at this time, the time the input was complete: later events (beyond "
    "timing.future_skew) are refused as too far in the future (RFC 3339 or unix s; default: "
    "scores at the latest accepted event time, refusal against the wall clock).",
)  # fmt: skip
@click.option(
    "--until",
    default=None,
    help="Fire scenario/SLA/inactivity timers due up to this time (RFC 3339 or unix seconds; "
    "default: --at, else the latest accepted event time).",
)
@click.option(
    "--time-scale", type=float, default=1.0, show_default=True,
    help="Multiply scenario delays, inactivity, SLA deadlines and cool-offs (1/86400: days -> s).",
)  # fmt: skip
def score_file(
    events: Path, rules_file: Path | None, as_of: str | None, until: str | None, time_scale: float
) -> None:
    """Replay a JSONL file of events offline; print final scores, alerts and scenario
    actions as JSON lines."""
    from scorer.replay_file import replay_file

    rules_path = rules_file or Settings.model_fields["rules_file"].default
    for line in replay_file(events, rules_path, as_of, until, time_scale):
        click.echo(line)


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSONL here.")
@click.option("--leads", default=300, show_default=True)
@click.option("--accounts", default=30, show_default=True)
@click.option("--rate", default=30.0, show_default=True, help="Background events per second.")
@click.option("--duration", default=120.0, show_default=True, help="Seconds of traffic.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--envelopes", "envelope_mode", type=click.Choice(["lead", "partition"]), default="lead",
    show_default=True,
    help="Envelopes of one lead's events, or partition envelopes: every lead of a partition.",
)  # fmt: skip
@click.option(
    "--envelope-max", type=click.IntRange(min=1),
    help="Up to this many events per message (leads.event-batch.v1); default 1 (no "
    "envelopes), 100 with --envelopes partition.",
)  # fmt: skip
@click.option(
    "--envelope-window", default=5.0, show_default=True, type=click.FloatRange(min=0.0),
    help="Seconds (event time) an envelope waits for more events (with envelopes).",
)  # fmt: skip
@click.option(
    "--history", is_flag=True,
    help="Write a history with sales outcomes (won/lost/...) for calibrate and backtest (--out).",
)  # fmt: skip
@click.option("--months", default=12, show_default=True, help="Months of history (--history).")
def simulate(
    out: Path | None,
    leads: int,
    accounts: int,
    rate: float,
    duration: float,
    seed: int,
    envelope_mode: str,
    envelope_max: int | None,
    envelope_window: float,
    history: bool,
    months: int,
) -> None:
    """Publish simulated traffic to Kafka in real time, or write it to a JSONL file (--out).

    With --history: a year of events with outcomes from a hidden buying model (--leads
    defaults to 5000 there)."""
    from scorer.simulator_io import publish_live, write_history, write_jsonl

    if history:
        if out is None:
            raise click.UsageError("--history writes a file: give --out FILE")
        if months < 3:
            raise click.UsageError("--months: at least 3 (leads need weeks to decide)")
        source = click.get_current_context().get_parameter_source("leads")
        count = write_history(
            out, 5000 if source is click.core.ParameterSource.DEFAULT else leads, months, seed
        )
        click.echo(f"wrote {count} events to {out}")
        return
    if envelope_max is None:
        envelope_max = 100 if envelope_mode == "partition" else 1
    if out is not None:
        if envelope_max > 1:
            # score-file reads single events; the JSONL is its input.
            raise click.UsageError("--envelope-max applies to publishing, not to --out")
        count = write_jsonl(out, leads, accounts, rate, duration, seed)
        click.echo(f"wrote {count} events to {out}")
    else:
        publish_live(
            load_settings(), leads, accounts, rate, duration, seed,
            envelope_max=envelope_max, envelope_window=envelope_window,
            by_partition=envelope_mode == "partition",
        )  # fmt: skip


@cli.command()
@click.argument("lead_ids", nargs=-1, required=True)
@click.option(
    "--wait", "wait_s", type=click.FloatRange(min=0.0), default=60.0, show_default=True,
    help="Seconds to wait for the workers' erasure records (0: send and return).",
)  # fmt: skip
def erase(lead_ids: tuple[str, ...], wait_s: float) -> None:
    """Erase leads: their state, changelog, Redis keys and account contribution
    (see the README's "Erasing a lead")."""
    import asyncio

    from scorer.erase_command import erase as request_erasure

    outcomes = asyncio.run(request_erasure(load_settings(), lead_ids, wait_s))
    for outcome in outcomes:
        click.echo(outcome.describe())
    pending = sum(o.erasure is None for o in outcomes)
    if pending and wait_s > 0:
        raise click.ClickException(
            f"{pending} of {len(outcomes)} erasures not confirmed within {wait_s:.0f} s "
            "(is a worker running? the requests stay on the topic and are handled when one is)"
        )


@cli.command("settings")
def show_settings() -> None:
    """List every setting: its value in effect (from the environment, .env or the
    default; secrets masked), where it came from, and its meaning."""
    from scorer.settings import settings_in_effect

    for name, value, source, doc in settings_in_effect():
        click.echo(f"{name:38} {value:28} {source:8} {doc}")


# scorer calibrate / scorer backtest live with their package.
from scorer.calibrate.cli_commands import backtest_command, calibrate_command  # noqa: E402

cli.add_command(calibrate_command)
cli.add_command(backtest_command)


def main() -> None:
    cli(prog_name="scorer")
