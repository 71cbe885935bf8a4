"""The HTML report: one self-contained file (jinja2 template, inline SVG charts, inline
CSS, no script, nothing fetched), readable by marketing and sales."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from scorer.calibrate import charts
from scorer.calibrate.backtest import Run
from scorer.calibrate.commands import BacktestResult, CalibrationResult
from scorer.calibrate.history import iso
from scorer.calibrate.outcomes import LeadOutcome
from scorer.calibrate.points import NOT_SUPPORTED, REVERSED, SUPPORTED
from scorer.calibrate.thresholds import Row, cutoff
from scorer.settings import ConfigError

_ENV = Environment(
    loader=PackageLoader("scorer.calibrate", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)
_CSS = {SUPPORTED: "supported", NOT_SUPPORTED: "not-supported", REVERSED: "not-supported"}


def _section(id_: str, heading: str, text: str = "", chart: str = "",
             table: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": id_, "heading": heading, "text": text, "chart": chart, "table": table}


def _threshold_table(rows: Sequence[Row], mark: float) -> dict[str, Any]:
    return {
        "header": ["threshold", "MQLs", "per month", "recall", "precision", "median days to win",
                   "load per week by team"],
        "text_columns": {6},
        "rows": [
            {
                "css": "mark" if r.threshold == mark else "",
                "cells": [
                    f"{r.threshold:g}", f"{r.mqls:,}", f"{r.per_month:.1f}", f"{r.recall:.0%}",
                    f"{r.precision:.0%}",
                    "-" if r.median_days_to_win is None else f"{r.median_days_to_win:.0f}",
                    ", ".join(f"{t}: {n:.1f}" for t, n in r.load_per_week.items()),
                ],
            }
            for r in rows
        ],
    }  # fmt: skip


def _peaks(run: Run, population: Mapping[str, LeadOutcome]) -> tuple[list[float], list[float]]:
    won: list[float] = []
    other: list[float] = []
    for lead, outcome in population.items():
        trajectory = run.trajectories.get(lead)
        peak = trajectory.peak_before(cutoff(outcome)) if trajectory else 0.0
        (won if outcome.won else other).append(peak)
    return won, other


def _write(directory: Path, title: str, subtitle: str, notes: Sequence[str],
           sections: Sequence[dict[str, Any]]) -> Path:  # fmt: skip
    path = directory / "report.html"
    html = _ENV.get_template("report.html.j2").render(
        title=title, subtitle=subtitle, notes=notes, sections=sections
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--report {directory}: cannot write: {exc.strerror or exc}") from None
    return path


def write_calibration_report(directory: Path, result: CalibrationResult) -> Path:
    p = result.proposal
    base, new = result.runs
    lifts = sorted(p.lifts.values(), key=lambda x: -x.lift)
    held_out = {
        lead: o for lead, o in result.outcomes.by_lead.items()
        if o.labelled and result.held_out_from is not None and o.decided_at >= result.held_out_from
    }  # fmt: skip
    diff_rows = [
        {"css": _CSS.get(d.verdict, "muted"),
         "cells": [d.rule_id, d.label, f"{d.old_points:g}", f"{d.new_points:g}", d.verdict,
                   d.evidence]}
        for d in p.decisions
    ] + [
        {"css": "supported", "cells": [n.rule_id, n.label, "-", f"{n.points:+d}", "added",
                                       n.evidence]}
        for n in p.added
    ]  # fmt: skip
    threshold = result.suggestion.threshold
    suggested = "none" if threshold is None else f"{threshold:g}"
    sections = [
        _section(
            "lift", "Lift per attribute and behaviour",
            "Win rate of decided leads with the attribute or behaviour (before the decision) "
            "over the win rate of those without it; bars show the 95% interval. Green: more "
            "likely to win, red: less likely, grey: no clear effect.",
            charts.lift_chart(lifts),
            {"header": ["feature", "leads", "won", "win rate", "lift", "95% interval"],
             "text_columns": {0},
             "rows": [{"css": "", "cells": [x.feature, f"{x.support:,}", f"{x.wins:,}",
                                            f"{x.win_rate:.1%}", f"{x.lift:.2f}",
                                            f"{x.low:.2f}-{x.high:.2f}"]}
                      for x in lifts if x.enough][:40]},
        ),
        _section(
            "rules-diff", "Rules diff: current and proposed points",
            "Each rule's verdict and the evidence behind it (written as a comment above the "
            "rule in the proposed file too).",
            table={"header": ["rule", "label", "current", "proposed", "verdict", "evidence"],
                   "text_columns": {0, 1, 4, 5}, "rows": diff_rows},
        ),
        _section(
            "scores-current", f"Score distribution, won vs not won: {base.label}",
            f"Highest score before the decision, {len(held_out):,} held-out newer leads.",
            charts.score_distributions(*_peaks(base, held_out), base.label),
        ),
        _section(
            "scores-proposed", f"Score distribution, won vs not won: {new.label}", "",
            charts.score_distributions(*_peaks(new, held_out), new.label),
        ),
        _section(
            "thresholds", "What sales would receive: precision, recall and volume by threshold",
            f"Held-out newer leads. At the current rules' volume ({result.volume:,} MQLs): "
            f"recall {result.same_volume[base.rules_path]:.0%} now, "
            f"{result.same_volume[new.rules_path]:.0%} with the proposal. Suggested "
            f"threshold: {suggested} ({result.suggestion.rule}): {result.suggestion.why}.",
            charts.threshold_chart({
                "current": result.held_out_tables[base.rules_path],
                "proposed": result.held_out_tables[new.rules_path],
            }),
            _threshold_table(result.held_out_tables[new.rules_path], new.threshold),
        ),
    ]  # fmt: skip
    if p.fit is not None and p.fit.calibration:
        sections.append(
            _section(
                "calibration", "Calibration: predicted vs observed win rate",
                f"The model trained on older leads, on the newer ones (AUC "
                f"{p.fit.test_auc if p.fit.test_auc is None else round(p.fit.test_auc, 3)}).",
                charts.calibration_chart(p.fit.calibration),
            )
        )  # fmt: skip
    subtitle = (
        f"{result.history.summary()}. {result.outcomes.summary()}. Held out: leads decided "
        f"from {iso(result.held_out_from) if result.held_out_from else '-'}."
    )
    return _write(directory, "Calibration report", subtitle, p.notes, sections)


def write_backtest_report(directory: Path, result: BacktestResult) -> Path:
    population = {k: o for k, o in result.outcomes.by_lead.items() if o.labelled}
    sections = []
    for i, run in enumerate(result.runs):
        sections.append(
            _section(
                f"scores-{i}", f"Score distribution, won vs not won: {run.label}",
                "Highest score before the decision, every decided lead.",
                charts.score_distributions(*_peaks(run, population), run.label),
            )
        )  # fmt: skip
        sections.append(
            _section(
                f"content-{i}", f"What earned won deals their points: {run.label}", "",
                charts.contributions_chart(run.won_contributions),
            )
        )  # fmt: skip
    sections.append(
        _section(
            "thresholds", "Precision, recall and volume by threshold", "",
            charts.threshold_chart({r.label: result.tables[r.rules_path] for r in result.runs}),
            _threshold_table(result.tables[result.runs[-1].rules_path], result.runs[-1].threshold),
        )
    )  # fmt: skip
    for c in result.comparisons:
        sections.append(
            _section(
                "changes", f"{c.other.label} vs {c.base.label}: {c.differences:,} differences",
                "Leads that gain or lose a hand-off, with the top contributions of the alert.",
                table={"header": ["lead", "change", "outcome", "why"], "text_columns": {0, 1, 2, 3},
                       "rows": [{"css": "", "cells": [x.lead_id, x.change, x.outcome or "-",
                                                      ", ".join(x.reasons)]}
                                for x in c.changes[:200]]},
            )
        )  # fmt: skip
    return _write(directory, "Back-test report", result.history.summary(), [], sections)
