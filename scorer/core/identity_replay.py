"""Identity merges in an offline replay, in input order (the worker does the same; see
core/identity.py for the semantics and docs/identity.md for the worker's side)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from scorer.core.events import Event
from scorer.core.identity import (
    Link,
    Visitor,
    expired,
    first_link,
    history_rules,
    is_anonymous,
    lead_for,
    link,
    remember,
)

if TYPE_CHECKING:
    from scorer.core.rules import Rules


class IdentityRouter:
    """Turns a stream of events and links into the events to score, in order:
    an anonymous visitor's events are scored as its anonymous lead (and kept) until it is
    linked, then go to its lead; a visitor's first link yields its kept history for the
    lead, which `rules_for` scores without lateness refusals."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.policy = rules.identity
        self.visitors: dict[str, Visitor] = {}
        self._moved: Event | None = None  # the history event just yielded, if it is one

    def events(self, items: Iterable[Event | Link]) -> Iterator[Event]:
        for item in items:
            self._moved = None
            if isinstance(item, Link):
                yield from self._link(item)
            elif is_anonymous(item.lead_id):
                yield self._visitor_event(item)
            else:
                yield item

    def rules_for(self, event: Event) -> Rules:
        if event is self._moved:
            return history_rules(self.rules)
        return self.rules

    def _current(self, lead_id: str, t: float) -> Visitor | None:
        visitor = self.visitors.get(lead_id)
        if visitor is not None and expired(visitor, t, self.policy):
            del self.visitors[lead_id]  # silent for the whole look-back: forgotten
            return None
        return visitor

    def _visitor_event(self, event: Event) -> Event:
        visitor = self._current(event.lead_id, event.occurred_at)
        target = lead_for(visitor, event.occurred_at)
        if visitor is not None and target is not None:
            if visitor.last_seen is None or event.occurred_at > visitor.last_seen:
                # Still active: the link is remembered for another look-back.
                self.visitors[event.lead_id] = replace(visitor, last_seen=event.occurred_at)
            routed = replace(event, lead_id=target)
            if first_link(visitor, event.occurred_at) is not None:
                self._moved = routed  # history arriving after the link: as history
            return routed
        self.visitors[event.lead_id] = remember(visitor, event, self.policy)
        return event

    def _link(self, new_link: Link) -> Iterator[Event]:
        anonymous = new_link.anonymous_lead_id
        visitor = self._current(anonymous, new_link.occurred_at)
        self.visitors[anonymous], moved = link(visitor, new_link, self.policy)
        for event in moved:
            self._moved = event
            yield event
        self._moved = None
