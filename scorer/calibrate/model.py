"""A regularised logistic regression of "won" on the features, trained on the older
leads and tested on the newer ones (time-ordered split by decision point).

Each coefficient comes with a 95% interval from the penalised Fisher information, so a
rule whose interval holds 0 is one the data does not support once the other rules are
accounted for (a rule can have a high lift only because active leads do everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from scorer.calibrate.features import LeadFeatures
from scorer.calibrate.lift import Z95

TRAIN_SHARE = 0.7
C = 1.0  # inverse L2 strength (scikit-learn's default)


@dataclass(frozen=True, slots=True)
class Coefficient:
    feature: str
    value: float  # log-odds per unit (an event, or the attribute holding)
    low: float
    high: float

    @property
    def supported(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def evidence(self) -> str:
        return f"coefficient {self.value:+.2f} (95% CI {self.low:+.2f} to {self.high:+.2f})"


@dataclass(frozen=True, slots=True)
class Split:
    train: list[LeadFeatures]
    test: list[LeadFeatures]

    @property
    def boundary(self) -> float:
        """Decision time from which leads are held out (the newer ones)."""
        return self.test[0].outcome.decided_at if self.test else float("inf")


@dataclass(frozen=True, slots=True)
class Fit:
    features: tuple[str, ...]
    intercept: float
    coefficients: dict[str, Coefficient]
    test_auc: float | None
    # (mean predicted, observed win rate, leads) per bin of predicted probability, test set
    calibration: list[tuple[float, float, int]]
    test_predictions: list[tuple[str, float, bool]]


def time_split(leads: Sequence[LeadFeatures], train_share: float = TRAIN_SHARE) -> Split:
    """`leads` sorted by decision point; the oldest `train_share` train the model."""
    cut = int(len(leads) * train_share)
    return Split(list(leads[:cut]), list(leads[cut:]))


def matrix(leads: Sequence[LeadFeatures], features: Sequence[str]) -> np.ndarray:
    x = np.zeros((len(leads), len(features)))
    index = {name: j for j, name in enumerate(features)}
    for i, lf in enumerate(leads):
        for name, value in lf.values.items():
            j = index.get(name)
            if j is not None:
                x[i, j] = value
    return x


def fit_model(split: Split, features: Sequence[str], bins: int = 8) -> Fit:
    x = matrix(split.train, features)
    y = np.array([lf.outcome.won for lf in split.train], dtype=float)
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(x, y)
    beta = model.coef_[0]
    p = model.predict_proba(x)[:, 1]
    # Penalised observed information: X'WX + I/C (scikit-learn's penalty is |b|^2 / 2C).
    information = (x * (p * (1 - p))[:, None]).T @ x + np.eye(len(features)) / C
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(information)), 0.0, None))
    coefficients = {
        name: Coefficient(name, float(b), float(b - Z95 * s), float(b + Z95 * s))
        for name, b, s in zip(features, beta, se, strict=True)
    }
    auc = None
    calibration: list[tuple[float, float, int]] = []
    predictions: list[tuple[str, float, bool]] = []
    if split.test:
        xt = matrix(split.test, features)
        yt = np.array([lf.outcome.won for lf in split.test], dtype=bool)
        pt = model.predict_proba(xt)[:, 1]
        if yt.any() and not yt.all():
            auc = float(roc_auc_score(yt, pt))
        predictions = [
            (lf.outcome.lead_id, float(pr), bool(w))
            for lf, pr, w in zip(split.test, pt, yt, strict=True)
        ]
        order = np.argsort(pt)
        for chunk in np.array_split(order, min(bins, len(order))):
            if len(chunk):
                calibration.append((float(pt[chunk].mean()), float(yt[chunk].mean()), len(chunk)))
    return Fit(
        tuple(features), float(model.intercept_[0]), coefficients, auc, calibration, predictions
    )
