"""Eloqua-style grade: a fit letter times an engagement digit (A1 is best, D4 worst)."""

from __future__ import annotations

from sys import intern

from scorer.core.rules import GradeBands


def fit_letter(fit: float, bands: GradeBands) -> str:
    for letter, minimum in bands.fit:
        if fit >= minimum:
            return letter
    return bands.fallback_fit


def engagement_band(engagement: float, bands: GradeBands) -> str:
    for digit, minimum in bands.engagement:
        if engagement >= minimum:
            return digit
    return bands.fallback_engagement


def grade(fit: float, engagement: float, bands: GradeBands) -> str:
    # fit_letter(fit, bands) + engagement_band(engagement, bands), inlined (once per event)
    letter = bands.fallback_fit
    for label, minimum in bands.fit:
        if fit >= minimum:
            letter = label
            break
    # Interned: every lead holds its grade, and there are a dozen distinct ones, so the
    # leads share them instead of holding a fresh two-letter string each (~50 bytes).
    for digit, minimum in bands.engagement:
        if engagement >= minimum:
            return intern(letter + digit)
    return intern(letter + bands.fallback_engagement)
