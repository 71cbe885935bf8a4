"""Hypothesis strategies: realistic lead event histories and in-lateness arrival orders."""

from __future__ import annotations

from hypothesis import strategies as st

from scorer.core import Event, EventKind
from tests.unit.core.builders import HOUR, MINUTE, T0

BEHAVIOURS: list[tuple[EventKind, dict[str, object]]] = [
    (EventKind.PAGE_VIEW, {"url": "/"}),
    (EventKind.PAGE_VIEW, {"url": "/pricing", "product": "product-a"}),
    (EventKind.PAGE_VIEW, {"url": "/careers"}),
    (EventKind.CONTENT_DOWNLOAD, {"asset_type": "case_study", "product": "product-a"}),
    (EventKind.CONTENT_DOWNLOAD, {"asset_type": "case_study", "product": "product-b"}),
    (EventKind.FORM_SUBMIT, {"form_id": "demo-request"}),
    (EventKind.EMAIL_CLICK, {"campaign_id": "c1"}),
    (EventKind.EMAIL_UNSUBSCRIBE, {"campaign_id": "c1"}),
    (EventKind.SEMINAR_ATTENDED, {"webinar_id": "w1"}),
]
PROFILES: list[dict[str, object]] = [
    {"title": "製造本部 部長", "employee_count": 500, "industry": "製造業"},
    {"title": "Engineer", "employee_count": 50},
    {"seniority": "student"},
    {"title": "Director", "employee_count": 2000, "industry": "manufacturing"},
]

# Gaps between consecutive events: mostly minutes, sometimes zero (ties), sometimes days.
GAPS = st.sampled_from([0.0, 1.0, 30.0, 5 * MINUTE, 20 * MINUTE, HOUR, 6 * HOUR, 3 * 86400.0])


@st.composite
def histories(
    draw: st.DrawFn,
    leads: tuple[str, ...] = ("L1",),
    account: str | None = None,
    min_size: int = 1,
    max_size: int = 30,
    profiles: bool = True,
) -> list[Event]:
    """Events in event-time order (ties allowed), each with a unique id."""
    count = draw(st.integers(min_size, max_size))
    t = T0
    events = []
    for i in range(count):
        t += draw(GAPS)
        lead = draw(st.sampled_from(leads))
        if profiles and draw(st.integers(0, 6)) == 0:
            kind, fields = EventKind.PROFILE_UPDATED, draw(st.sampled_from(PROFILES))
        else:
            kind, fields = draw(st.sampled_from(BEHAVIOURS))
        # Random ids make the (time, id) tie-break order differ from generation order.
        event_id = f"{draw(st.integers(0, 999)):03d}-{i}"
        events.append(Event(event_id, lead, kind, t, account, dict(fields)))  # type: ignore[arg-type]
    return events


@st.composite
def arrival_orders(draw: st.DrawFn, events: list[Event], lateness: float) -> list[Event]:
    """A shuffle where no event arrives more than `lateness` behind its lead's newest.

    Each event is delivered at its time plus a delay in [0, lateness]; an earlier-delivered
    event e' then has t' <= t' + d' <= t + d <= t + lateness, so t >= t' - lateness.
    """
    delays = draw(
        st.lists(
            st.floats(0.0, lateness, allow_nan=False, allow_infinity=False),
            min_size=len(events),
            max_size=len(events),
        )
    )
    keyed = sorted(range(len(events)), key=lambda i: (events[i].occurred_at + delays[i], i))
    return [events[i] for i in keyed]
