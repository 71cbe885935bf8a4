"""The `scorer calibrate` and `scorer backtest` commands (registered in scorer.cli).

They only parse arguments and delegate to scorer.calibrate.commands; scikit-learn,
jinja2 and matplotlib (the `calibrate` extra) are imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from scorer.settings import ConfigError, Settings


def _need_calibrate_extra() -> None:
    import importlib.util

    missing = [
        m for m in ("sklearn", "jinja2", "matplotlib") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise ConfigError(
            f"this command needs {', '.join(missing)}: pip install 'lead-scorer[calibrate]'"
        )


_HISTORY = click.Path(dir_okay=False, exists=True, path_type=Path)
_OUTCOMES = click.option(
    "--outcomes",
    "outcomes_csv",
    type=_HISTORY,
    default=None,
    help="CRM export (CSV: lead_id,outcome,decision_date[,closed_date]) instead of the "
    "history's feedback events.",
)
_HORIZON = click.option(
    "--horizon-days",
    default=90.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="A lead without an outcome this long after its first event counts as no deal.",
)


@click.command("calibrate")
@click.argument("history", type=_HISTORY, nargs=-1, required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the proposed rules file here.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The current rules file (default: SCORER_RULES_FILE or rules/default.yaml).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report (report.html) into this directory.",
)
@_OUTCOMES
@click.option(
    "--capacity",
    multiple=True,
    metavar="TEAM=N/week",
    help="A team's capacity in leads per week (repeatable); drives the suggestion.",
)
@_HORIZON
@click.option(
    "--window-days",
    default=90.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Behaviour counted this long before each decision point.",
)
def calibrate_command(
    history: tuple[Path, ...],
    out: Path,
    rules_file: Path | None,
    report_dir: Path | None,
    outcomes_csv: Path | None,
    capacity: tuple[str, ...],
    horizon_days: float,
    window_days: float,
) -> None:
    """Propose a rules file from won deals: lift, a model on older leads tested on newer
    ones, points on your file's scale with their evidence, a suggested threshold."""
    from rich.console import Console

    _need_calibrate_extra()
    from scorer.calibrate.commands import Options, calibrate
    from scorer.calibrate.output import print_calibration

    console = Console(soft_wrap=True)
    rules_path = rules_file or Settings.model_fields["rules_file"].default
    result = calibrate(
        console,
        history,
        Path(rules_path),
        out,
        outcomes_csv,
        capacity,
        Options(horizon_days=horizon_days, window_days=window_days),
    )
    print_calibration(console, result, str(out))
    if report_dir is not None:
        from scorer.calibrate.report import write_calibration_report

        click.echo(f"wrote {write_calibration_report(report_dir, result)}")


@click.command("backtest")
@click.argument("history", type=_HISTORY, nargs=-1, required=True)
@click.option(
    "--rules",
    "rules_files",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="A rules file (repeat: the first is the base).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the HTML report (report.html) into this directory.",
)
@_OUTCOMES
@_HORIZON
def backtest_command(
    history: tuple[Path, ...],
    rules_files: tuple[Path, ...],
    as_json: bool,
    report_dir: Path | None,
    outcomes_csv: Path | None,
    horizon_days: float,
) -> None:
    """Replay a history through each rules file (the score-file engine) and compare
    hand-offs, recall, precision and load side by side."""
    import orjson
    from rich.console import Console

    _need_calibrate_extra()
    from scorer.calibrate.commands import Options, backtest
    from scorer.calibrate.output import backtest_record, print_backtest

    console = Console(stderr=as_json, soft_wrap=True)
    result = backtest(console, history, rules_files, outcomes_csv, Options(horizon_days))
    if as_json:
        click.echo(orjson.dumps(backtest_record(result), option=orjson.OPT_INDENT_2).decode())
    else:
        print_backtest(console, result)
    if report_dir is not None:
        from scorer.calibrate.report import write_backtest_report

        click.echo(f"wrote {write_backtest_report(report_dir, result)}", err=as_json)
