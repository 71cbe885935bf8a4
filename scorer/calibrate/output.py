"""Terminal tables (rich) and the JSON form of calibrate's and backtest's results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from scorer.calibrate.backtest import Run
from scorer.calibrate.commands import BacktestResult, CalibrationResult
from scorer.calibrate.thresholds import Row


def _pct(x: float) -> str:
    return f"{x:.0%}"


def threshold_table(title: str, rows: Sequence[Row], mark: float | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (
        "threshold",
        "MQLs",
        "per month",
        "recall",
        "precision",
        "days to win",
        "load/week",
    ):
        table.add_column(name, justify="right" if name != "load/week" else "left")
    for row in rows:
        days = f"{row.median_days_to_win:.0f}" if row.median_days_to_win is not None else "-"
        load = ", ".join(f"{t} {n:.1f}" for t, n in row.load_per_week.items())
        star = " *" if mark is not None and row.threshold == mark else ""
        table.add_row(
            f"{row.threshold:g}{star}",
            f"{row.mqls:,}",
            f"{row.per_month:.1f}",
            _pct(row.recall),
            _pct(row.precision),
            days,
            load,
        )
    return table


def print_calibration(console: Console, result: CalibrationResult, out: str) -> None:
    p = result.proposal
    table = Table(title="Rules: what the data says", title_justify="left")
    for name in ("rule", "points", "verdict", "evidence"):
        table.add_column(name)
    for d in p.decisions:
        points = (
            f"{d.old_points:g}"
            if d.old_points == d.new_points
            else f"{d.old_points:g} -> {d.new_points:g}"
        )
        table.add_row(d.rule_id, points, d.verdict, d.evidence)
    for n in p.added:
        table.add_row(n.rule_id, f"new {n.points:+d}", "added", n.evidence)
    console.print(table)
    for run in result.runs:
        console.print(
            threshold_table(
                f"Held-out newer leads ({result.held_out_leads:,}), {run.label}",
                result.held_out_tables[run.rules_path],
                run.threshold,
            )
        )
    base, new = result.runs[0], result.runs[1]
    console.print(
        f"At the current rules' volume ({result.volume:,} MQLs among the held-out leads): "
        f"recall {_pct(result.same_volume[base.rules_path])} with {base.label}, "
        f"{_pct(result.same_volume[new.rules_path])} with the proposal.",
        highlight=False,
    )
    s = result.suggestion
    if s.threshold is not None:
        console.print(f"Suggested threshold: {s.threshold:g} ({s.rule}): {s.why}", highlight=False)
    else:
        console.print(f"No threshold suggested ({s.rule}): {s.why}", highlight=False)
    console.print(f"time: {result.timings.summary()}", highlight=False)
    console.print(f"wrote {out} (check it: scorer rules check {out})", highlight=False)


def _run_record(run: Run, rows: Sequence[Row], events: int) -> dict[str, object]:
    return {
        "rules": run.rules_path,
        "version": run.rules.version,
        "threshold": run.threshold,
        "handoffs": sum(len(a) for a in run.handoffs.values()),
        "leads_handed_off": len(run.handoffs),
        "alerts": len(run.alert_ids),
        "refused_events": run.refused,
        "events_per_s": events / run.seconds if run.seconds > 0 else None,
        "thresholds": [r.to_record() for r in rows],
        "won_contributions": dict(
            sorted(run.won_contributions.items(), key=lambda kv: -kv[1])[:15]
        ),
    }


def backtest_record(result: BacktestResult) -> dict[str, object]:
    h = result.history
    events = len(h.events)
    return {
        "history": {
            "source": h.source,
            "lines": h.lines_read,
            "events": events,
            "malformed": h.count("malformed"),
            "invalid": h.count("invalid"),
            "out_of_order": h.count("out_of_order"),
            "problems": [
                {"line": p.line, "kind": p.kind, "message": p.message} for p in h.problems
            ],
        },
        "outcomes": result.outcomes.counts(),
        "runs": [_run_record(r, result.tables[r.rules_path], events) for r in result.runs],
        "comparisons": [
            {
                "base": c.base.rules_path,
                "other": c.other.rules_path,
                "differences": c.differences,
                "leads": [
                    {
                        "lead_id": x.lead_id,
                        "change": x.change,
                        "outcome": x.outcome,
                        "reasons": x.reasons,
                    }
                    for x in c.changes
                ],
            }
            for c in result.comparisons
        ],
    }


def print_backtest(console: Console, result: BacktestResult) -> None:
    for run in result.runs:
        console.print(
            threshold_table(
                f"{run.label}: all decided leads", result.tables[run.rules_path], run.threshold
            )
        )
        top = sorted(run.won_contributions.items(), key=lambda kv: -kv[1])[:8]
        console.print(
            "  points that won deals earned before the win: "
            + ", ".join(f"{rule} {pts:,.0f}" for rule, pts in top),
            highlight=False,
        )
    for c in result.comparisons:
        gained = sum(1 for x in c.changes if x.change == "gained")
        lost = sum(1 for x in c.changes if x.change == "lost")
        changed = c.differences - gained - lost
        console.print(
            f"{c.other.label} vs {c.base.label}: {c.differences:,} differences "
            f"({gained:,} leads gain a hand-off, {lost:,} lose one, {changed:,} change)",
            highlight=False,
        )
        table = Table(title="Leads that gain or lose a hand-off (first 20)", title_justify="left")
        for name in ("lead", "change", "outcome", "why (top contributions)"):
            table.add_column(name)
        for x in c.changes[:20]:
            table.add_row(x.lead_id, x.change, x.outcome or "-", ", ".join(x.reasons[:4]))
        if c.changes:
            console.print(table)
