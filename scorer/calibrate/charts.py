"""The report's charts: matplotlib (Agg, no display) rendered to inline SVG text.

Text is drawn as paths, so the SVG needs no font and no network to render; labels are
rule ids and feature names (ASCII), never personal data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from scorer.calibrate.lift import Lift
from scorer.calibrate.thresholds import Row

mpl.rcParams["svg.hashsalt"] = "lead-scorer"  # the same input gives the same SVG


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def lift_chart(lifts: Sequence[Lift], limit: int = 25) -> str:
    shown = sorted((x for x in lifts if x.enough), key=lambda x: x.lift)[-limit:]
    figure, axes = plt.subplots(figsize=(8, 0.3 * max(len(shown), 4) + 1))
    names = [x.feature for x in shown]
    values = [x.lift for x in shown]
    errors = [[x.lift - x.low for x in shown], [min(x.high, 50) - x.lift for x in shown]]
    colors = ["#2a9d8f" if x.low > 1 else "#e76f51" if x.high < 1 else "#999999" for x in shown]
    axes.barh(names, values, xerr=errors, color=colors, capsize=2)
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("lift (win rate with / without), 95% interval")
    axes.tick_params(axis="y", labelsize=7)
    return _svg(figure)


def score_distributions(won: Sequence[float], other: Sequence[float], title: str) -> str:
    figure, axes = plt.subplots(figsize=(6, 3))
    top = max([*won, *other, 1.0])
    bins = [top * i / 30 for i in range(31)]
    axes.hist(other, bins=bins, alpha=0.6, density=True, label=f"not won ({len(other):,})")
    axes.hist(won, bins=bins, alpha=0.6, density=True, label=f"won ({len(won):,})")
    axes.set_xlabel("highest score before the decision")
    axes.set_ylabel("share of leads")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    return _svg(figure)


def threshold_chart(rows_by_label: Mapping[str, Sequence[Row]]) -> str:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    for label, rows in rows_by_label.items():
        xs = [r.threshold for r in rows]
        left.plot(xs, [r.recall for r in rows], marker="o", markersize=3, label=f"recall, {label}")
        left.plot(xs, [r.precision for r in rows], linestyle="--", label=f"precision, {label}")
        right.plot(xs, [r.per_month for r in rows], marker="o", markersize=3, label=label)
    left.set_xlabel("threshold")
    left.set_ylim(0, 1.05)
    left.legend(fontsize=7)
    right.set_xlabel("threshold")
    right.set_ylabel("MQLs per month")
    right.legend(fontsize=7)
    return _svg(figure)


def calibration_chart(points: Sequence[tuple[float, float, int]]) -> str:
    figure, axes = plt.subplots(figsize=(4.5, 4))
    top = max([p for p, _, _ in points] + [o for _, o, _ in points] + [0.1])
    axes.plot([0, top], [0, top], color="#999999", linewidth=0.8, label="perfect")
    axes.plot([p for p, _, _ in points], [o for _, o, _ in points], marker="o", label="model")
    axes.set_xlabel("predicted win rate (newer leads)")
    axes.set_ylabel("observed win rate")
    axes.legend(fontsize=8)
    return _svg(figure)


def contributions_chart(points_by_rule: Mapping[str, float], limit: int = 12) -> str:
    shown = sorted(points_by_rule.items(), key=lambda kv: kv[1])[-limit:]
    figure, axes = plt.subplots(figsize=(7, 0.3 * max(len(shown), 4) + 1))
    axes.barh([k for k, _ in shown], [v for _, v in shown], color="#264653")
    axes.set_xlabel("points won deals earned from the rule before the win")
    axes.tick_params(axis="y", labelsize=7)
    return _svg(figure)
