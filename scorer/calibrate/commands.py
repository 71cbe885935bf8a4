"""What `scorer calibrate` and `scorer backtest` do, step by step, with the console.

Problems with the input are printed one per line with their line number (up to
`SHOWN_PER_KIND` of each kind, then a count), every count is printed, and a missing
ingredient (no won deals, an unreadable CSV) stops with one line, never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from scorer.calibrate.backtest import Comparison, Run, compare, run_rules, tables
from scorer.calibrate.batch import paused_gc
from scorer.calibrate.features import build_features
from scorer.calibrate.history import History, Problem, iso, read_histories
from scorer.calibrate.model import time_split
from scorer.calibrate.outcomes import Outcomes, OutcomesFileError, from_csv, from_feedback
from scorer.calibrate.points import Proposal, propose
from scorer.calibrate.rules_writer import proposed_text
from scorer.calibrate.thresholds import (
    Row,
    Suggestion,
    cutoff,
    parse_capacity,
    recall_at_volume,
    suggest,
)
from scorer.core import Event
from scorer.rules import load_rules, parse_rules
from scorer.settings import ConfigError

SHOWN_PER_KIND = 50
DAY = 86400.0


class Stopwatch:
    """Wall and CPU seconds per stage (the machine may be shared: CPU is per core)."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.stages.append((stage, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu

    def summary(self) -> str:
        return ", ".join(
            f"{name} {wall:.1f} s (cpu {cpu:.1f} s)" for name, wall, cpu in self.stages
        )


@dataclass(frozen=True, slots=True)
class Options:
    horizon_days: float = 90.0
    window_days: float = 90.0
    min_wins: int = 30


def print_problems(console: Console, source: str, problems: Sequence[Problem]) -> None:
    shown: dict[str, int] = {}
    for problem in problems:
        shown[problem.kind] = shown.get(problem.kind, 0) + 1
        if shown[problem.kind] <= SHOWN_PER_KIND:
            console.print(problem.text(source), markup=False, highlight=False)
    for kind, count in shown.items():
        if count > SHOWN_PER_KIND:
            console.print(f"{source}: ... and {count - SHOWN_PER_KIND:,} more {kind} lines")


def load_inputs(
    console: Console,
    history_paths: Sequence[Path],
    outcomes_csv: Path | None,
    lateness: float,
    horizon: float,
    require_wins: bool = True,
) -> tuple[History, Outcomes]:
    names = ", ".join(str(p) for p in history_paths)
    with console.status(f"reading {names}"):
        history = read_histories(history_paths, lateness)
    print_problems(console, history.source, history.problems)
    console.print(history.summary(), highlight=False)
    if not history.events:
        raise ConfigError(f"{names}: no valid events in the history")
    if outcomes_csv is not None:
        try:
            outcomes = from_csv(outcomes_csv, history, horizon)
        except OutcomesFileError as exc:
            raise ConfigError(str(exc)) from None
        print_problems(console, str(outcomes_csv), outcomes.problems)
        if outcomes.problems:
            console.print(f"{outcomes_csv}: {len(outcomes.problems):,} lines skipped")
    else:
        outcomes = from_feedback(history, horizon)
    console.print(outcomes.summary(), highlight=False)
    if outcomes.counts()["won"] == 0 and not require_wins:
        console.print(
            f"[yellow]no won deals in the outcomes ({outcomes.source}): hand-offs are "
            "compared, recall is 0 and days to win are unknown[/yellow]"
        )
    elif outcomes.counts()["won"] == 0:
        raise ConfigError(
            f"no won deals in the outcomes ({outcomes.source}): calibration and recall need "
            "won deals (feedback.won events, or rows with outcome 'won' in --outcomes)"
        )
    return history, outcomes


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def replay_all(
    console: Console,
    events: Sequence[Event],
    rules_files: Sequence[tuple[str, str]],
    outcomes: Outcomes,
    scope: str = "",
) -> list[Run]:
    """(label, rules text) pairs -> runs, with a progress bar per replay."""
    runs = []
    with _progress(console) as progress:
        for path, text in rules_files:
            rules = parse_rules(text, path)
            task = progress.add_task(f"replaying with {Path(path).name}", total=len(events))
            runs.append(
                run_rules(
                    events,
                    rules,
                    path,
                    outcomes.by_lead,
                    partial(progress.advance, task),
                )
            )
    for run in runs:
        rate = len(events) / run.seconds if run.seconds > 0 else 0.0
        console.print(
            f"{run.label}{scope}: {len(run.handoffs):,} leads handed off, {len(run.alert_ids):,} "
            f"alerts, {run.refused:,} events refused by the core; {rate:,.0f} events/s",
            highlight=False,
        )
    return runs


def history_period(events: Sequence[Event]) -> float:
    times = [e.occurred_at for e in events]
    return max(times) - min(times) if times else 0.0


@dataclass(slots=True)
class CalibrationResult:
    proposal: Proposal
    runs: list[Run]
    held_out_tables: dict[str, list[Row]]
    held_out_leads: int
    held_out_from: float | None
    same_volume: dict[str, float]  # rules path -> recall at the current rules' volume
    volume: int
    suggestion: Suggestion
    text: str
    history: History
    outcomes: Outcomes
    timings: Stopwatch = field(default_factory=Stopwatch)


def calibrate(
    console: Console,
    history_paths: Sequence[Path],
    rules_path: Path,
    out: Path,
    outcomes_csv: Path | None,
    capacity_args: Sequence[str],
    options: Options,
) -> CalibrationResult:
    try:
        capacity = parse_capacity(capacity_args)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: directory {out.parent} does not exist")
    watch = Stopwatch()
    rules = load_rules(rules_path)
    original = rules_path.read_text(encoding="utf-8")
    history, outcomes = load_inputs(
        console,
        history_paths,
        outcomes_csv,
        rules.timing.allowed_lateness_s,
        options.horizon_days * DAY,
    )
    watch.lap("read")
    with console.status("features before each decision point, lift, model"), paused_gc():
        features = build_features(
            history.events, outcomes.by_lead, rules, options.window_days * DAY
        )
        watch.lap("features")
        split = time_split(features.leads)
        proposal = propose(features, rules, split, options.min_wins)
        watch.lap("lift and model")
    for note in proposal.notes:
        console.print(f"[yellow]{note}[/yellow]")
    end = max(e.occurred_at for e in history.events)
    version = f"{rules.version}-calibrated.{iso(end)[:10].replace('-', '')}"
    header = _header(history_paths, outcomes, split.boundary, proposal)
    draft = proposed_text(original, proposal, version, header, source=str(out))
    held_out = {lf.outcome.lead_id: lf.outcome for lf in split.test}
    # A lead's score and hand-offs depend only on its own events (README, Guarantees), so
    # the held-out comparison replays only the held-out leads' events: a third of the work.
    held_out_events = [e for e in history.events if e.lead_id in held_out]
    runs = replay_all(
        console,
        held_out_events,
        [(str(rules_path), original), (str(out), draft)],
        outcomes,
        f", {len(held_out):,} held-out newer leads",
    )
    watch.lap(f"replays of the held-out leads ({len(held_out_events):,} events x 2)")
    period = max((cutoff(o) for o in held_out.values()), default=0.0) - split.boundary
    held_tables = tables(runs, held_out, max(period, DAY))
    base_rows = {r.threshold: r for r in held_tables[str(rules_path)]}
    volume = base_rows[runs[0].threshold].mqls
    same_volume = {
        run.rules_path: recall_at_volume(run.trajectories, held_out, volume) for run in runs
    }
    suggestion = suggest(held_tables[str(out)], capacity)
    comment = (
        f"calibrate: suggested threshold {suggestion.threshold:g} ({suggestion.rule}; "
        f"{suggestion.why}); kept at the current value here"
        if suggestion.threshold is not None
        else f"calibrate: no threshold suggested ({suggestion.rule}: {suggestion.why})"
    )
    text = proposed_text(
        original, proposal, version, header, {runs[1].threshold_name: comment}, source=str(out)
    )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    watch.lap("tables and file")
    return CalibrationResult(
        proposal,
        runs,
        held_tables,
        len(held_out),
        split.boundary if split.test else None,
        same_volume,
        volume,
        suggestion,
        text,
        history,
        outcomes,
        watch,
    )


def _header(
    history_paths: Sequence[Path], outcomes: Outcomes, boundary: float, p: Proposal
) -> list[str]:
    c = outcomes.counts()
    lines = [
        f"Proposed by `scorer calibrate` from {', '.join(path.name for path in history_paths)}: "
        f"{c['won']:,} won, "
        f"{c['lost']:,} lost, {c['rejected']:,} rejected, {c['no_deal']:,} without a deal.",
        "Every changed, added or unsupported rule carries a `# calibrate:` comment with its",
        "evidence: the coefficient (log-odds per event or attribute, holding the other rules",
        "fixed) and the lift (win rate with / without it) with 95% intervals.",
    ]
    if p.fit is not None:
        auc = f"{p.fit.test_auc:.3f}" if p.fit.test_auc is not None else "n/a"
        lines.append(
            f"Trained on leads decided before {iso(boundary)}, tested on the newer ones "
            f"(AUC {auc}); {p.scale:.1f} points per unit of log-odds keep the hand-off "
            f"threshold {p.threshold:g} at the current MQL volume."
        )
    lines.append(
        "Back-test it before adopting it: scorer backtest HISTORY --rules CURRENT --rules THIS"
    )
    return lines


@dataclass(slots=True)
class BacktestResult:
    runs: list[Run]
    tables: dict[str, list[Row]]
    comparisons: list[Comparison]
    history: History
    outcomes: Outcomes
    period: float


def backtest(
    console: Console,
    history_paths: Sequence[Path],
    rules_paths: Sequence[Path],
    outcomes_csv: Path | None,
    options: Options,
) -> BacktestResult:
    loaded = [(path, load_rules(path)) for path in rules_paths]
    lateness = min(r.timing.allowed_lateness_s for _, r in loaded)
    history, outcomes = load_inputs(
        console, history_paths, outcomes_csv, lateness, options.horizon_days * DAY,
        require_wins=False,
    )  # fmt: skip
    files = [(str(p), p.read_text(encoding="utf-8")) for p in rules_paths]
    runs = replay_all(console, history.events, files, outcomes)
    population = {k: o for k, o in outcomes.by_lead.items() if o.labelled}
    period = history_period(history.events)
    comparisons = [compare(runs[0], run, outcomes.by_lead) for run in runs[1:]]
    return BacktestResult(
        runs, tables(runs, population, period), comparisons, history, outcomes, period
    )
