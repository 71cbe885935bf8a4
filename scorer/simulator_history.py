"""A year of history with outcomes, drawn from a hidden "true" buying model.

`scorer simulate --history` writes what `scorer calibrate` and `scorer backtest` read: a
profile per lead, its behaviour, and the sales feedback that followed (won, lost,
qualified, rejected), including wins sales found themselves (no hand-off: only
`feedback.qualified` then `feedback.won`) and leads disqualified before any hand-off.

Whether a lead wins is drawn from `TRUE_MODEL`: log-odds = base + the weights of its
attributes + per-event weights of its behaviour (each capped) + noise. The weights are
keyed by the rule ids of rules/default.yaml, plus two drivers that file has no rule for
(`industry=logistics`, the integrations docs), one rule that does nothing
(`web.whitepaper_download`, the planted irrelevant rule), and a behaviour that only
happens after a win (the customer portal), which a leakage-safe calibration must ignore.
The model is importable so tests can compare what calibration found with the truth.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from scorer.simulator import TOPIC_BY_CATEGORY, SimEvent, _iso

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A behaviour the simulator draws per lead: mean count, cap on what counts, the
    event it produces."""

    key: str  # rule id in rules/default.yaml, or a calibrate feature name
    mean: float
    cap: int
    kind: str
    fields: Mapping[str, Any]


def _b(key: str, mean: float, cap: int, kind: str, **fields: Any) -> Behaviour:
    return Behaviour(key, mean, cap, kind, MappingProxyType(fields))


@dataclass(frozen=True, slots=True)
class TrueModel:
    base: float
    attributes: Mapping[str, float]  # per matching attribute (log-odds)
    behaviour: Mapping[str, float]  # per event, up to the behaviour's cap (log-odds)
    noise: float
    irrelevant_rule: str
    post_win_url: str
    behaviours: tuple[Behaviour, ...] = field(default=())

    def weights(self) -> dict[str, float]:
        return {**self.attributes, **self.behaviour}


BEHAVIOURS = (
    _b("web.page_view", 4.0, 30, "web.page_view", url="/blog/dx-trends"),
    _b("web.pricing_view", 0.8, 3, "web.page_view", url="/pricing"),
    _b("page:/docs/integrations", 0.7, 3, "web.page_view", url="/docs/integrations/salesforce"),
    _b("web.careers_view", 0.25, 2, "web.page_view", url="/careers"),
    _b(
        "web.case_study_download",
        0.5,
        2,
        "web.content_download",
        asset_id="case-maker",
        asset_type="case_study",
    ),
    _b(
        "web.whitepaper_download",
        1.0,
        2,
        "web.content_download",
        asset_id="wp-dx",
        asset_type="whitepaper",
    ),
    _b("web.demo_request", 0.12, 1, "web.form_submit", form_id="demo-request", url="/demo"),
    _b("seminar.attended", 0.35, 2, "seminar.attended", webinar_id="webinar-dx"),
    _b("email.open", 3.0, 20, "email.open", campaign_id="newsletter"),
    _b("email.click", 0.8, 3, "email.click", campaign_id="newsletter", url="/blog"),
)

TRUE_MODEL = TrueModel(
    base=-5.9,
    attributes=MappingProxyType(
        {
            "fit.title.manager_plus": 1.0,
            "fit.employees.100_plus": 0.6,
            "fit.industry.manufacturing": 0.3,
            "attr:industry=logistics": 1.0,
            "fit.country.japan": 0.3,
            "fit.bant.budget": 0.5,
            "fit.bant.timeframe_3m": 1.5,
            "fit.negative.free_mail": -1.5,
        }
    ),
    behaviour=MappingProxyType(
        {
            "web.page_view": 0.02,
            "web.pricing_view": 0.6,
            "page:/docs/integrations": 0.9,
            "web.careers_view": -0.8,
            "web.case_study_download": 0.5,
            "web.whitepaper_download": 0.0,
            "web.demo_request": 1.8,
            "seminar.attended": 0.1,
            "email.open": 0.0,
            "email.click": 0.15,
        }
    ),
    noise=0.3,
    irrelevant_rule="web.whitepaper_download",
    post_win_url="/customer-portal/home",
    behaviours=BEHAVIOURS,
)

SENIORITY = [
    ("部長", "director", 0.2),
    ("VP Sales", "vp", 0.08),
    ("CEO", "c_level", 0.05),
    ("課長", "manager", 0.3),
    ("Engineer", "staff", 0.35),
    ("学生", "student", 0.02),
]
INDUSTRY = [
    ("manufacturing", 0.3),
    ("logistics", 0.15),
    ("software", 0.25),
    ("retail", 0.15),
    ("finance", 0.15),
]
COUNTRY = [("JP", 0.6), ("US", 0.2), ("DE", 0.1), ("SG", 0.1)]
TIMEFRAME = [("0-3m", 0.15), ("3-6m", 0.2), ("6-12m", 0.25), ("none", 0.4)]
MANAGER_PLUS = frozenset({"director", "vp", "c_level"})


def _pick(rng: random.Random, table: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    roll, acc = rng.random(), 0.0
    for row in table:
        acc += row[-1]
        if roll < acc:
            return row
    return table[-1]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(slots=True)
class _Lead:
    lead_id: str
    account_id: str
    created: float
    profile: dict[str, Any]
    matched: list[str]  # attribute keys of the true model that hold
    counts: dict[str, int]


class HistorySimulator:
    """Leads created over `months`, their behaviour over the following weeks, then an
    outcome. Deterministic for a seed."""

    def __init__(
        self, leads: int, months: int, seed: int, start: float, model: TrueModel = TRUE_MODEL
    ) -> None:
        self.rng = random.Random(seed)
        self.leads = leads
        self.start = start
        self.end = start + months * 30 * DAY
        self.model = model
        self._seq = 0

    def _event(self, lead: _Lead, kind: str, at: float, **fields: Any) -> SimEvent:
        self._seq += 1
        value = {
            "event_id": f"h-{self._seq:010d}",
            "lead_id": lead.lead_id,
            "account_id": lead.account_id,
            "type": kind,
            "occurred_at": _iso(at),
            **fields,
        }
        return SimEvent(TOPIC_BY_CATEGORY[kind.partition(".")[0]], lead.lead_id, value, at)

    def _lead(self, index: int) -> _Lead:
        rng = self.rng
        title, seniority, _ = _pick(rng, SENIORITY)
        industry, _ = _pick(rng, INDUSTRY)
        country, _ = _pick(rng, COUNTRY)
        timeframe, _ = _pick(rng, TIMEFRAME)
        employees = int(math.exp(rng.uniform(math.log(5), math.log(20000))))
        free_mail = rng.random() < 0.15
        budget = rng.random() < 0.3
        profile: dict[str, Any] = {
            "company": f"Company {index // 4}",
            "employee_count": employees,
            "industry": industry,
            "title": title,
            "seniority": seniority,
            "country": country,
            "email_domain": "gmail.com" if free_mail else f"corp{index // 4}.example.co.jp",
            "budget": budget,
            "timeframe": timeframe,
        }
        holds = {
            "fit.title.manager_plus": seniority in MANAGER_PLUS,
            "fit.employees.100_plus": employees >= 100,
            "fit.industry.manufacturing": industry == "manufacturing",
            "attr:industry=logistics": industry == "logistics",
            "fit.country.japan": country == "JP",
            "fit.bant.budget": budget,
            "fit.bant.timeframe_3m": timeframe == "0-3m",
            "fit.negative.free_mail": free_mail,
        }
        # How active a lead is varies a lot; every behaviour scales with it.
        activity = math.exp(rng.gauss(-0.2, 0.6))
        counts = {
            b.key: min(_poisson(rng, b.mean * activity), b.cap * 2) for b in self.model.behaviours
        }
        created = rng.uniform(self.start, self.end - 60 * DAY)
        return _Lead(
            f"lead-{index:06d}",
            f"acc-{index // 4:05d}",
            created,
            profile,
            [k for k, v in holds.items() if v],
            counts,
        )

    def log_odds(self, lead: _Lead) -> float:
        model = self.model
        total = model.base + sum(model.attributes.get(k, 0.0) for k in lead.matched)
        for behaviour in model.behaviours:
            count = min(lead.counts[behaviour.key], behaviour.cap)
            total += model.behaviour.get(behaviour.key, 0.0) * count
        return total

    def _events(self, lead: _Lead) -> Iterator[SimEvent]:
        rng = self.rng
        t0 = lead.created
        yield self._event(lead, "profile.updated", t0, **lead.profile)
        span = 14 * DAY  # a buying burst: the scorer's decay keeps most of it
        for behaviour in self.model.behaviours:
            for _ in range(lead.counts[behaviour.key]):
                at = t0 + rng.uniform(60.0, span)
                yield self._event(lead, behaviour.kind, at, **behaviour.fields)
        decided = t0 + span + rng.uniform(1 * DAY, 5 * DAY)
        odds = self.log_odds(lead) + rng.gauss(0.0, self.model.noise)
        won = rng.random() < 1.0 / (1.0 + math.exp(-odds))
        yield from self._outcome(lead, won, odds, decided)
        # Life goes on after the decision: a little reading, and customers use the portal.
        for _ in range(_poisson(rng, 1.0)):
            at = decided + rng.uniform(DAY, 60 * DAY)
            yield self._event(lead, "web.page_view", at, url="/blog/after")

    def _outcome(self, lead: _Lead, won: bool, odds: float, decided: float) -> Iterator[SimEvent]:
        rng = self.rng
        if won:
            sales_sourced = rng.random() < 0.25  # found by sales, never handed off
            if not sales_sourced:
                yield self._event(lead, "feedback.accepted", decided, team="inside-sales")
            yield self._event(lead, "feedback.qualified", decided + 2 * DAY, team="inside-sales")
            won_at = decided + rng.uniform(15 * DAY, 40 * DAY)
            yield self._event(lead, "feedback.won", won_at, team="inside-sales")
            for _ in range(1 + _poisson(rng, 3.0)):
                at = won_at + rng.uniform(DAY, 50 * DAY)
                yield self._event(lead, "web.page_view", at, url=self.model.post_win_url)
            return
        student = lead.profile["seniority"] == "student"
        roll = rng.random()
        if student or roll < 0.05:  # disqualified before any hand-off
            reason = "student" if student else "spam"
            yield self._event(lead, "feedback.rejected", decided, reason=reason)
        elif odds > -3.0 and roll < 0.6:  # an opportunity that was lost
            yield self._event(lead, "feedback.accepted", decided, team="inside-sales")
            yield self._event(lead, "feedback.qualified", decided + 2 * DAY)
            yield self._event(lead, "feedback.lost", decided + 25 * DAY, reason="price")
        elif roll < 0.25:  # handed off, sales said not now
            yield self._event(lead, "feedback.accepted", decided, team="inside-sales")
            yield self._event(lead, "feedback.rejected", decided + DAY, reason="no_budget")
        # else: no feedback at all (never went anywhere)

    def events(self) -> list[SimEvent]:
        """Every event of the history in event-time order."""
        out: list[SimEvent] = []
        for index in range(self.leads):
            out.extend(self._events(self._lead(index)))
        out.sort(key=lambda e: e.at)
        return [e for e in out if e.at <= self.end]


def simulate_history(
    leads: int, months: int, seed: int, start: float = 1_767_225_600.0
) -> list[SimEvent]:
    """A history of `months` months (from 2026-01-01 by default)."""
    return HistorySimulator(leads, months, seed, start).events()
