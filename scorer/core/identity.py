"""Anonymous visitors and identity links (pure policy; see docs/identity.md).

A visitor without a known lead id is the lead `anon:<visitor id>`. It is scored like any
lead but never produces a hand-off alert, a scenario action or an account signal
(`quiet`). Its recent raw events are kept in a bounded `Visitor` record: at most
`identity.max_events`, none older than `identity.lookback` before its newest event.

An identity link (visitor → lead) merges: the first link of a visitor moves its kept
events, with their original event ids and times, to the lead (`link`), where they are
scored exactly as the lead's own (`history_rules`: never refused as late, since a
history is old by nature). Later events of the visitor go to the lead of the latest link
at or before their time (`lead_for`). A link id seen before changes nothing; the moved
events keep their ids, so moving them again is deduplicated by the lead.

One visitor linked to two leads: the history goes to the first lead linked (no event
ever counts for two leads); events after the second link's time go to the second lead.
Two visitors linked to one lead: both histories merge into it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from scorer.core.events import Event, EventKind

if TYPE_CHECKING:
    from scorer.core.lead_state import LeadUpdate
    from scorer.core.rules import Rules

ANONYMOUS_PREFIX = "anon:"
# A visitor keeps at most this many links (the latest by time); older ones are forgotten.
MAX_LINKS = 16


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """The `identity` section of the rules file."""

    # Anonymous events older than this before the visitor's newest event are not kept
    # (and not merged); a visitor silent for this long is forgotten.
    lookback_s: float = 90 * 86400.0
    # The most recent raw events kept per anonymous visitor for a merge.
    max_events: int = 500


@dataclass(frozen=True, slots=True)
class Link:
    """An identity link: the visitor is the lead, as of `occurred_at`."""

    link_id: str
    visitor_id: str
    lead_id: str
    occurred_at: float

    @property
    def anonymous_lead_id(self) -> str:
        return anonymous_lead_id(self.visitor_id)


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the scorer keeps of one anonymous visitor (keyed by its anonymous lead id)."""

    lead_id: str
    # Raw events not merged yet, oldest first (bounded: see `remember`).
    history: tuple[Event, ...] = ()
    # (occurred_at, link_id, lead_id), ordered by time; at most MAX_LINKS.
    links: tuple[tuple[float, str, str], ...] = ()
    # The latest event or link time seen: the visitor expires `lookback_s` after it.
    last_seen: float | None = None

    def to_record(self) -> dict[str, object]:
        return {
            "lead_id": self.lead_id,
            "history": [_event_record(e) for e in self.history],
            "links": [list(link) for link in self.links],
            "last_seen": self.last_seen,
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Visitor:
        history = _list(record.get("history"))
        links = _list(record.get("links"))
        last_seen = record.get("last_seen")
        return cls(
            lead_id=str(record["lead_id"]),
            history=tuple(_event_from(e) for e in history),
            links=tuple((float(t), str(i), str(lead)) for t, i, lead in links),
            last_seen=None if last_seen is None else float(str(last_seen)),
        )


def anonymous_lead_id(visitor_id: str) -> str:
    return ANONYMOUS_PREFIX + visitor_id


def is_anonymous(lead_id: str) -> bool:
    return lead_id.startswith(ANONYMOUS_PREFIX)


def quiet(update: LeadUpdate) -> LeadUpdate:
    """An anonymous lead's update without what only a known lead may produce."""
    if not is_anonymous(update.state.lead_id):
        return update
    if not update.alerts and not update.actions and update.account_signal is None:
        return update
    return update._replace(alerts=(), actions=(), account_signal=None)


def history_rules(rules: Rules) -> Rules:
    """The rules a merged history is scored with: the same rules (same version, same
    settling window), except that no event kind is refused as late. A history older than
    a lead's settled summary takes effect at the summary's end, as late feedback does."""
    cached = _HISTORY_RULES.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    exempt = copy.copy(rules)
    never = float("inf")
    object.__setattr__(exempt, "lateness_s_of", MappingProxyType(dict.fromkeys(EventKind, never)))
    _HISTORY_RULES[id(rules)] = (rules, exempt)
    return exempt


_HISTORY_RULES: dict[int, tuple[Rules, Rules]] = {}


def lead_for(visitor: Visitor | None, t: float) -> str | None:
    """The lead an event of the visitor at time `t` belongs to; None while not linked.

    The lead of the latest link at or before `t`; an event before every link belongs to
    the first lead linked (it is part of the history that lead received)."""
    if visitor is None or not visitor.links:
        return None
    chosen = visitor.links[0][2]
    for at, _, lead_id in visitor.links:
        if at > t:
            break
        chosen = lead_id
    return chosen


def first_link(visitor: Visitor | None, t: float) -> str | None:
    """The first link's id when an event at `t` predates every link of the visitor: it is
    part of the history the first lead received, and is scored as such (`history_rules`),
    whenever it arrives."""
    if visitor is None or not visitor.links or t >= visitor.links[0][0]:
        return None
    return visitor.links[0][1]


def remember(visitor: Visitor | None, event: Event, policy: IdentityPolicy) -> Visitor:
    """Keep an anonymous (not yet linked) event for a later merge, within the bounds."""
    base = visitor if visitor is not None else Visitor(event.lead_id)
    newest = event.occurred_at if base.last_seen is None else max(base.last_seen, event.occurred_at)
    if any(e.event_id == event.event_id for e in base.history):
        return replace(base, last_seen=newest)
    kept = sorted((*base.history, event), key=lambda e: (e.occurred_at, e.event_id))
    horizon = newest - policy.lookback_s
    kept = [e for e in kept if e.occurred_at >= horizon][-policy.max_events :]
    return replace(base, history=tuple(kept), last_seen=newest)


def link(
    visitor: Visitor | None, new_link: Link, policy: IdentityPolicy
) -> tuple[Visitor, tuple[Event, ...]]:
    """Record a link; the visitor's new record and the events to move to the lead.

    Only the visitor's first link moves its history (events within `lookback_s` before the
    link, each rewritten to the lead with its own id and time); a link id already known
    changes nothing."""
    base = visitor if visitor is not None else Visitor(new_link.anonymous_lead_id)
    if any(link_id == new_link.link_id for _, link_id, _ in base.links):
        return base, ()
    entry = (new_link.occurred_at, new_link.link_id, new_link.lead_id)
    links = tuple(sorted((*base.links, entry)))[-MAX_LINKS:]
    last_seen = (
        new_link.occurred_at
        if base.last_seen is None
        else max(base.last_seen, new_link.occurred_at)
    )
    moved: tuple[Event, ...] = ()
    if not base.links:
        horizon = new_link.occurred_at - policy.lookback_s
        moved = tuple(
            replace(e, lead_id=new_link.lead_id) for e in base.history if e.occurred_at >= horizon
        )
    return replace(base, history=(), links=links, last_seen=last_seen), moved


def expired(visitor: Visitor, now: float, policy: IdentityPolicy) -> bool:
    """Whether the visitor has been silent for the whole look-back (it is forgotten)."""
    return visitor.last_seen is not None and visitor.last_seen < now - policy.lookback_s


def _event_record(event: Event) -> dict[str, object]:
    return {
        "event_id": event.event_id,
        "lead_id": event.lead_id,
        "type": event.kind.value,
        "occurred_at": event.occurred_at,
        "account_id": event.account_id,
        "fields": dict(event.fields),
    }


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _event_from(record: object) -> Event:
    if not isinstance(record, dict):
        raise TypeError(f"expected an event record, got {type(record).__name__}")
    fields = record.get("fields") or {}
    account_id = record.get("account_id")
    return Event(
        event_id=str(record["event_id"]),
        lead_id=str(record["lead_id"]),
        kind=EventKind(record["type"]),
        occurred_at=float(record["occurred_at"]),
        account_id=None if account_id is None else str(account_id),
        fields=MappingProxyType(dict(fields)),
    )
