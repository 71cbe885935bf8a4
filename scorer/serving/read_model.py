"""Redis read model: current lead and account scores, and hot-lead rankings.

The state tables are the truth; this is a copy for fast reads by sales tools. Updates
are staged in memory (latest per key wins) and flushed in one pipeline per interval, so
no event waits for Redis. When Redis is down the staged records are kept, the error
counter moves, and the next successful flush catches up.

What a flush costs the worker is what redis-py does per command (packing every argument,
reading every reply: ~27 µs of the worker's CPU per lead hash), so a flush sends few
commands: the hashes go HASHES_PER_CALL at a time through one Lua script (each hash's
fields as one JSON argument, ~5 µs per lead), and the ranking changes as one ZADD and one
ZREM per sorted set. A Redis that refuses scripts (an ACL without @scripting, a proxy)
gets one HSET per hash instead, as before.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoPermissionError, NoScriptError, RedisError, ResponseError

from scorer.serving.metrics import ScorerMetrics

log = logging.getLogger(__name__)

Fields = Mapping[str, str | int | float]

# A worker's marker outlives a day without a check only if the worker is gone.
MARKER_TTL_S = 86_400

# Sets every hash of a chunk: KEYS[i] gets the fields of ARGV[i], a JSON array of
# [field, value, ...] strings (values as redis-py would have sent them, see _flat).
WRITE_HASHES_LUA = """
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], unpack(cjson.decode(ARGV[i])))
end
return #KEYS
"""
WRITE_HASHES_SHA = hashlib.sha1(WRITE_HASHES_LUA.encode(), usedforsecurity=False).hexdigest()
# Hashes per script call: a call holds Redis for ~2 µs per hash, so about 1 ms.
HASHES_PER_CALL = 500
# Members per ZADD or ZREM: a resync can stage a partition's every lead in one flush.
MEMBERS_PER_COMMAND = 1_000
# Server errors after which flushes write one HSET per hash: "no scripts here" (NOPERM:
# an ACL without @scripting; a proxy without EVALSHA), or the script failing (e.g. a
# key of another type: a failing script leaves the rest of its chunk unwritten, where
# a failing HSET costs only its own hash).
_SCRIPTS_REFUSED = ("unknown command", "Error running script", "user_script")


@dataclass(slots=True)
class StagedLead:
    fields: Fields
    account_id: str | None
    team: str | None
    hot: bool
    was_hot: bool  # before this update: decides whether the rankings need touching
    score: float


@dataclass(slots=True)
class _RankingChanges:
    """A flush's ranking changes, grouped per sorted set."""

    added: dict[str, dict[str, float]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, member: str, score: float) -> None:
        self.added.setdefault(name, {})[member] = score

    def remove(self, name: str, member: str) -> None:
        self.removed.setdefault(name, []).append(member)


@dataclass(slots=True)
class RedisReadModel:
    redis: Redis
    prefix: str
    metrics: ScorerMetrics
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _leads: dict[str, StagedLead] = field(default_factory=dict)
    _accounts: dict[str, Fields] = field(default_factory=dict)
    # Erased leads: lead id -> the sorted sets that may rank it.
    _erased: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _marked: bool = False
    # None: not known yet whether Redis runs scripts; True: the script is loaded there.
    _scripted: bool | None = None

    @property
    def marker_key(self) -> str:
        return f"{self.prefix}read-model:worker:{self.run_id}"

    async def lost_data(self) -> bool:
        """Whether Redis lost what this worker wrote since the last check.

        Each worker keeps a marker key of its own (its run id) in Redis: set on the first
        check, and found again on every later one unless Redis came back without its
        data (a restart without persistence, a failover to an empty replica, FLUSHALL or
        FLUSHDB). One round trip; False when Redis does not answer (an outage is counted
        by the flushes, and its end is judged by the next check).
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.marker_key, "1", nx=True, ex=MARKER_TTL_S)
        pipe.expire(self.marker_key, MARKER_TTL_S)
        try:
            created, _ = await pipe.execute()
        except (RedisError, OSError):
            return False
        lost = bool(created) and self._marked
        self._marked = True
        return lost

    def lead_key(self, lead_id: str) -> str:
        return f"{self.prefix}lead:{lead_id}"

    def account_key(self, account_id: str) -> str:
        return f"{self.prefix}account:{account_id}"

    def stage_lead(self, lead_id: str, staged: StagedLead) -> None:
        self._leads[lead_id] = staged

    def stage_account(self, account_id: str, fields: Fields) -> None:
        self._accounts[account_id] = fields

    def stage_lead_erasure(self, lead_id: str, account_id: str | None, teams: set[str]) -> None:
        """Delete the lead's hash and its entries in every ranking that may hold it.

        Deletions go first in the next flush, so a fresh lead staged after the erasure
        (a later event of the same id) is written after them.
        """
        self._leads.pop(lead_id, None)
        rankings = [f"{self.prefix}hot-leads"]
        if account_id:
            rankings.append(f"{self.prefix}account:{account_id}:hot-leads")
        rankings.extend(f"{self.prefix}team:{team}:hot-leads" for team in sorted(teams))
        self._erased[lead_id] = tuple(rankings)

    @property
    def pending(self) -> int:
        return len(self._leads) + len(self._accounts) + len(self._erased)

    async def flush(self) -> None:
        if not self._leads and not self._accounts and not self._erased:
            return
        if not self._marked:
            # The marker goes in before the first data, so that losing the data loses it.
            await self.lost_data()
        if self._scripted is None:
            await self._load_script()
        leads, self._leads = self._leads, {}
        accounts, self._accounts = self._accounts, {}
        erased, self._erased = self._erased, {}
        pipe = self.redis.pipeline(transaction=False)
        rankings = _RankingChanges()
        for lead_id, rankings_of_erased in erased.items():
            pipe.delete(self.lead_key(lead_id))
            for name in rankings_of_erased:
                pipe.zrem(name, lead_id)
        self._write_hashes(
            pipe, ((self.lead_key(lead_id), staged.fields) for lead_id, staged in leads.items())
        )
        for lead_id, staged in leads.items():
            self._rank(rankings, lead_id, staged)
        self._write_hashes(
            pipe, ((self.account_key(account_id), f) for account_id, f in accounts.items())
        )
        for account_id, fields in accounts.items():
            rankings.add(f"{self.prefix}accounts:by-score", account_id, float(fields["score"]))
        _write_rankings(pipe, rankings)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self._after_failed_flush(exc)
            self.metrics.redis_write_errors.inc()
            log.warning("Redis flush failed (%s); %d records kept", type(exc).__name__, len(leads))
            # Newer staged values win over the ones that failed to go out.
            self._leads = leads | self._leads
            self._accounts = accounts | self._accounts
            # Still due; a fresh lead staged meanwhile is written after it in the next flush.
            self._erased = erased | self._erased
            return
        self.metrics.redis_writes.inc(len(leads) + len(accounts))

    async def _load_script(self) -> None:
        """Load the script once (then EVALSHA sends only its digest); until it is loaded,
        flushes write one HSET per hash."""
        try:
            await self.redis.script_load(WRITE_HASHES_LUA)
        except ResponseError as exc:
            # Not an outage (the server answered): it does not take scripts.
            self._no_scripts(exc)
            return
        except (RedisError, OSError):
            return  # an outage: the flush fails and counts it; loaded on the next one
        self._scripted = True

    def _after_failed_flush(self, exc: BaseException) -> None:
        if isinstance(exc, NoScriptError):
            self._scripted = None  # Redis restarted or ran SCRIPT FLUSH: load it again
        elif isinstance(exc, ResponseError) and self._scripted and _refuses_scripts(exc):
            self._no_scripts(exc)

    def _no_scripts(self, exc: ResponseError) -> None:
        # The error's class only: a pipeline's error message quotes keys.
        code = type(exc).__name__
        log.warning(
            "Redis refused or failed the read model's Lua script (%s); one HSET per hash", code
        )
        self._scripted = False

    def _write_hashes(self, pipe: Pipeline, hashes: Iterable[tuple[str, Fields]]) -> None:
        if not self._scripted:
            for key, fields in hashes:
                pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
            return
        for keys, values in _chunks(hashes, HASHES_PER_CALL):
            pipe.evalsha(WRITE_HASHES_SHA, len(keys), *keys, *values)

    async def hot_leads(self) -> int | None:
        """Size of the global hot-lead ranking, or None when Redis does not answer."""
        try:
            return int(await self.redis.zcard(f"{self.prefix}hot-leads"))
        except (RedisError, OSError):
            return None

    def _rank(self, rankings: _RankingChanges, lead_id: str, staged: StagedLead) -> None:
        # Most leads are and stay cold: leave the rankings alone for them.
        if not staged.hot and not staged.was_hot:
            return
        sets = [f"{self.prefix}hot-leads"]
        if staged.account_id:
            sets.append(f"{self.prefix}account:{staged.account_id}:hot-leads")
        if staged.team:
            sets.append(f"{self.prefix}team:{staged.team}:hot-leads")
        for name in sets:
            if staged.hot:
                rankings.add(name, lead_id, staged.score)
            else:
                rankings.remove(name, lead_id)


def _write_rankings(pipe: Pipeline, rankings: _RankingChanges) -> None:
    # A lead is staged at most once per flush, so one set's additions and removals
    # concern distinct members and their order does not matter.
    for name, members in rankings.added.items():
        items = list(members.items())
        for start in range(0, len(items), MEMBERS_PER_COMMAND):
            pipe.zadd(name, dict(items[start : start + MEMBERS_PER_COMMAND]))
    for name, removed in rankings.removed.items():
        for start in range(0, len(removed), MEMBERS_PER_COMMAND):
            pipe.zrem(name, *removed[start : start + MEMBERS_PER_COMMAND])


def _refuses_scripts(exc: ResponseError) -> bool:
    return isinstance(exc, NoPermissionError) or any(r in str(exc) for r in _SCRIPTS_REFUSED)


def _flat(fields: Fields) -> bytes:
    """A hash's fields as the script's JSON array: [field, value, ...], every value the
    string redis-py's encoder would send (str as it is, int and float as repr)."""
    flat: list[str] = []
    for name, value in fields.items():
        flat.append(name)
        flat.append(value if isinstance(value, str) else repr(value))
    return orjson.dumps(flat)


def _chunks(
    hashes: Iterable[tuple[str, Fields]], size: int
) -> Iterator[tuple[list[str], list[bytes]]]:
    keys: list[str] = []
    values: list[bytes] = []
    for key, fields in hashes:
        keys.append(key)
        values.append(_flat(fields))
        if len(keys) == size:
            yield keys, values
            keys, values = [], []
    if keys:
        yield keys, values
