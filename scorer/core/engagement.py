"""Engagement points: which rules an event matches, and how caps and once-only rules share
out points among events.

Caps are defined on event time, not arrival order, so that the result is a function of the
set of events only:

    Sort a rule's events by (occurred_at, event_id). Walking that order, each event gets
    award_i = sign(points) * min(|points|, max(0, cap - used_i)), where used_i is the sum
    of |award_k| of the earlier events k with occurred_at_k > occurred_at_i - window.

Every window of `window_s` seconds then holds at most `cap` points of that rule (the last
event in any window sees all the others in its own window). A late event is inserted at its
place in that order and the awards after it are recomputed (`reallocate`), which may move
points away from events already applied; those shifts are reported as score changes.
A once-only rule awards the earliest event by the same order.

Bounded logs (`compact_cap_log`): an entry no acceptable event can be placed before is
*final* (its award can never change again). A final entry with a zero award adds nothing
to any window, so it is dropped; a final entry is needed at all only while it can still
fall in the window of an entry that may be recomputed. A log therefore holds the entries
of the lead's open events plus at most ceil(cap / |points|) final ones, whatever the
lead's traffic, and every award stays exactly what the full log would give.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter
from typing import NamedTuple

from scorer.core.events import Event
from scorer.core.rules import AwardPlan, Cap, EngagementRule, Rules


class CapEntry(NamedTuple):
    occurred_at: float
    event_id: str
    raw: float
    points: float

    def to_list(self) -> list[object]:
        return [self.occurred_at, self.event_id, self.raw, self.points]


def matching_rules(event: Event, rules: Rules) -> tuple[EngagementRule, ...]:
    return tuple([plan.rule for plan in matching_plans(event, rules)])


def matching_plans(event: Event, rules: Rules) -> list[AwardPlan]:
    """The rules (with their category for this event kind) whose condition the event meets,
    in rules order; of an exclusive group only the first (see `EngagementRule`)."""
    memo = rules.kind_plans.get(event.kind)
    if memo is None:
        return []
    return list(memo.evaluate(event.fields))


def reallocate(
    log: tuple[CapEntry, ...], occurred_at: float, event_id: str, raw: float, cap: Cap
) -> tuple[tuple[CapEntry, ...], float, tuple[tuple[CapEntry, float], ...]]:
    """Insert an event into a rule's cap log and recompute the awards from it onwards.

    Returns the new log, the new event's award and the other entries whose award changed
    (each with its new award, and its previous award).
    """
    if not log or (occurred_at, event_id) > (log[-1].occurred_at, log[-1].event_id):
        points = appended_award(log, occurred_at, raw, cap)
        return (*log, CapEntry(occurred_at, event_id, raw, points)), points, ()
    index = bisect_left(log, (occurred_at, event_id), key=_entry_key)
    entries = [*log[:index], CapEntry(occurred_at, event_id, raw, 0.0), *log[index:]]
    changed: list[tuple[CapEntry, float]] = []
    awarded_new = 0.0
    # The entries with an award, by index: `_award` summed over the zero awards too, which
    # adds exactly nothing; skipping them keeps the sums bit for bit and makes the walk
    # after a late event cost O(entries x awards in a window), not O(entries^2).
    awarded = [k for k in range(index) if entries[k].points != 0.0]
    window_s = cap.window_s
    for j in range(index, len(entries)):
        current = entries[j]
        horizon = current.occurred_at - window_s
        used = 0.0
        for k in reversed(awarded):
            entry = entries[k]
            if entry.occurred_at <= horizon:
                break
            used += abs(entry.points)
        room = cap.points - used
        if room <= 0.0:
            points = 0.0
        else:
            magnitude = min(abs(current.raw), room)
            points = magnitude if current.raw >= 0.0 else -magnitude
        if points != 0.0:
            awarded.append(j)
        if j == index:
            awarded_new = points
            entries[j] = CapEntry(current.occurred_at, current.event_id, current.raw, points)
        elif points != current.points:
            updated = CapEntry(current.occurred_at, current.event_id, current.raw, points)
            entries[j] = updated
            changed.append((updated, current.points))
    return tuple(entries), awarded_new, tuple(changed)


def appended_award(log: tuple[CapEntry, ...], at: float, raw: float, cap: Cap) -> float:
    """The award of an event placed after every entry of `log`: `_award` at the end, with
    the same additions in the same order (newest first), as a plain loop."""
    horizon = at - cap.window_s
    used = 0.0
    for entry in reversed(log):
        if entry.occurred_at <= horizon:
            break
        used += abs(entry.points)
    room = cap.points - used
    if room <= 0.0:
        return 0.0
    magnitude = min(abs(raw), room)
    return magnitude if raw >= 0.0 else -magnitude


def _award(
    entries: tuple[CapEntry, ...] | list[CapEntry], j: int, at: float, raw: float, cap: Cap
) -> float:
    """The award of an event placed at index j, given the awards before it: the
    definition, which `appended_award` and `reallocate` compute faster (the property
    tests hold them to it)."""
    horizon = at - cap.window_s
    used = 0.0
    k = j - 1
    while k >= 0 and entries[k].occurred_at > horizon:
        used += abs(entries[k].points)
        k -= 1
    room = cap.points - used
    if room <= 0.0:
        return 0.0
    magnitude = min(abs(raw), room)
    return magnitude if raw >= 0.0 else -magnitude


# Logs up to this long are only pruned by time (`prune_cap_log`); longer ones are compacted.
COMPACT_ABOVE = 32


def compact_cap_log(
    log: tuple[CapEntry, ...], horizon: float, settled_t: float | None, window_s: float
) -> tuple[CapEntry, ...]:
    """`log` without the entries no acceptable event can need (see the module doc).

    An acceptable event has t >= `horizon` (the watermark minus the allowed lateness) and
    t > `settled_t` (the last settled point), so an entry with t < horizon or t <=
    settled_t is final: no event is ever inserted before it. Such an entry is dropped if
    its award is zero, or if it lies at or before cutoff - window (cutoff = the later of
    the two bounds), out of reach of every window that can still be recomputed.
    Final entries are a prefix of the log (it is in event-time order), so only that
    prefix is read.
    """
    cutoff = horizon if settled_t is None or settled_t < horizon else settled_t
    reach = cutoff - window_s
    kept: list[CapEntry] | None = None
    end = 0
    size = len(log)
    while end < size:
        entry = log[end]
        at = entry.occurred_at
        if not (at < horizon or (settled_t is not None and at <= settled_t)):
            break  # not final: this entry and every later one stay
        if at <= reach or entry.points == 0.0:
            if kept is None:
                kept = list(log[:end])
        elif kept is not None:
            kept.append(entry)
        end += 1
    if kept is None:
        return log
    return (*kept, *log[end:])


_entry_key = itemgetter(0, 1)  # (entry.occurred_at, entry.event_id)


def prune_cap_log(log: tuple[CapEntry, ...], keep_after: float) -> tuple[CapEntry, ...]:
    """Drop entries that can no longer fall inside the window of an acceptable event."""
    if not log or log[0].occurred_at > keep_after:
        return log
    # The log is in event-time order (`reallocate` keeps it so): the entries to keep are
    # a suffix.
    start = 1
    end = len(log)
    while start < end and log[start].occurred_at <= keep_after:
        start += 1
    return log[start:]
