"""On simulated histories with a known true model, calibration finds the true drivers,
flags the planted irrelevant rule, adds the drivers the file lacks, and never rewards a
behaviour that only happens after a win (leakage)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from scipy.stats import spearmanr

from scorer.calibrate.commands import Options, calibrate
from scorer.calibrate.features import build_features
from scorer.calibrate.history import read_history
from scorer.calibrate.lift import lifts
from scorer.calibrate.model import time_split
from scorer.calibrate.outcomes import from_feedback
from scorer.calibrate.points import NOT_SUPPORTED, Proposal, propose
from scorer.rules import load_rules
from scorer.simulator_history import TRUE_MODEL

DAY = 86400.0
DEFAULT = Path(__file__).resolve().parents[3] / "rules" / "default.yaml"
LEADS = 3000


def _propose(path: Path) -> Proposal:
    rules = load_rules(DEFAULT)
    history = read_history(path)
    outcomes = from_feedback(history, 90 * DAY)
    features = build_features(history.events, outcomes.by_lead, rules, 90 * DAY)
    return propose(features, rules, time_split(features.leads))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calibration_recovers_the_true_model(
    history_file: Callable[[int, int], Path], seed: int
) -> None:
    proposal = _propose(history_file(LEADS, seed))
    assert proposal.fit is not None
    true, found = [], []
    for key, weight in TRUE_MODEL.weights().items():
        feature = key if ":" in key else f"rule:{key}"
        lift = proposal.lifts.get(feature)
        coefficient = proposal.fit.coefficients.get(feature)
        if lift is not None and lift.enough and coefficient is not None:
            true.append(weight)
            found.append(coefficient.value)
    assert len(true) >= 15, "most of the true model has enough support"
    correlation = spearmanr(true, found).statistic
    assert correlation >= 0.8, (seed, correlation)
    verdicts = {d.rule_id: d for d in proposal.decisions}
    irrelevant = verdicts[TRUE_MODEL.irrelevant_rule]
    assert irrelevant.verdict == NOT_SUPPORTED, irrelevant
    assert irrelevant.new_points == 0
    added = {n.feature for n in proposal.added}
    assert {"attr:industry=logistics", "page:/docs/integrations"} <= added
    assert not any("customer-portal" in n.feature for n in proposal.added)


def test_post_win_behaviour_is_never_a_feature(history_file: Callable[[int, int], Path]) -> None:
    """The customer portal is visited only after a win: taken before the decision point
    it never appears; taken at the end of the history (the leak this guards against) it
    would look like the best predictor there is, so the test can fail."""
    rules = load_rules(DEFAULT)
    history = read_history(history_file(LEADS, 1))
    outcomes = from_feedback(history, 90 * DAY)
    portal = "page:/customer-portal/home"
    safe = build_features(history.events, outcomes.by_lead, rules, 90 * DAY)
    assert portal not in lifts(safe.leads)
    assert not any(portal in lf.values for lf in safe.leads)
    end = max(e.occurred_at for e in history.events) + 1
    leaky_outcomes = {k: replace(o, decided_at=end) for k, o in outcomes.by_lead.items()}
    leaky = build_features(history.events, leaky_outcomes, rules, 400 * DAY)
    leak = lifts(leaky.leads)[portal]
    assert leak.significant, leak
    assert leak.low > 3, leak


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_proposal_beats_the_default_rules_on_newer_leads(
    history_file: Callable[[int, int], Path], tmp_path: Path, seed: int
) -> None:
    """Higher recall on the held-out newer leads at the default rules' MQL volume, through
    the real replay. 5,000 leads: at 3,000 the held-out set has 70-90 wins and one seed of
    five loses by three leads (docs/calibration.md)."""
    result = calibrate(
        Console(quiet=True), [history_file(5000, seed)], DEFAULT, tmp_path / "proposed.yaml",
        None, [], Options(),
    )  # fmt: skip
    current, proposed = (result.same_volume[run.rules_path] for run in result.runs)
    assert result.volume > 50
    assert proposed > current, (seed, current, proposed)
