"""How the report writes durations, sizes and rates."""

from __future__ import annotations

import math


def ms(seconds: float | None) -> str:
    """Milliseconds or seconds; None is a NaN or inf read back from the JSON (null)."""
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "not seen"
    if math.isnan(seconds):
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def kb(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1024:,.1f} KB"


def per_s(value: float) -> str:
    return f"{value:,.0f}"
