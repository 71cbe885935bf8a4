"""What a lead tells its account: the lead's current contribution to the account fold
(see `account.py`), sent as an account signal whenever the lead's state changes."""

from __future__ import annotations

from typing import NamedTuple

from scorer.core.decay import decay_factor, decayed
from scorer.core.rules import Rules

# The version of the lead-signal and account-state records (`to_record`).
RECORD_VERSION = 1


class LeadSignal(NamedTuple):
    """What the account fold needs from one lead update (its current contribution)."""

    account_id: str
    lead_id: str
    seq: int
    at: float
    event_id: str
    ref: float | None
    engagement: tuple[float, ...]
    fit: float
    company_fit: float
    role: str | None
    last_engaged_at: float | None
    stage: str
    product: str | None
    rules_version: str

    def engagement_at(self, t: float, rules: Rules) -> float:
        """The lead's engagement decayed to `t`, added up in category order (the sum of
        `decay_factor` applied per category: a category that does not decay, a zero, or
        a read at or before `ref` keeps its value exactly, v * 1.0 == v)."""
        ref = self.ref
        if ref is None:
            return 0.0
        elapsed = t - ref
        if elapsed <= 0.0:
            return sum(self.engagement)
        half_lives = rules.half_lives_s
        if len(self.engagement) == len(half_lives):
            return sum(decayed(self.engagement, elapsed, rules))
        # A signal from rules with other categories (a rules change): decay what matches.
        return sum(
            v * decay_factor(elapsed, half_lives[i]) if i < len(half_lives) else v
            for i, v in enumerate(self.engagement)
        )

    def to_record(self) -> dict[str, object]:
        return {
            "v": RECORD_VERSION,
            "type": "lead_signal",
            "account_id": self.account_id,
            "lead_id": self.lead_id,
            "seq": self.seq,
            "at": self.at,
            "event_id": self.event_id,
            "ref": self.ref,
            "engagement": list(self.engagement),
            "fit": self.fit,
            "company_fit": self.company_fit,
            "role": self.role,
            "last_engaged_at": self.last_engaged_at,
            "stage": self.stage,
            "product": self.product,
            "rules_version": self.rules_version,
        }

    @classmethod
    def from_record(cls, raw: dict[str, object]) -> LeadSignal:
        from scorer.core.records import check_version, opt_float, opt_str, req_float, req_int

        check_version(raw, "lead_signal")
        engagement = raw["engagement"]
        if not isinstance(engagement, list):
            raise ValueError("lead_signal.engagement must be a list")
        return cls(
            account_id=str(raw["account_id"]),
            lead_id=str(raw["lead_id"]),
            seq=req_int(raw, "seq"),
            at=req_float(raw, "at"),
            event_id=str(raw["event_id"]),
            ref=opt_float(raw, "ref"),
            engagement=tuple(float(v) for v in engagement),
            fit=req_float(raw, "fit"),
            company_fit=req_float(raw, "company_fit"),
            role=opt_str(raw, "role"),
            last_engaged_at=opt_float(raw, "last_engaged_at"),
            stage=str(raw["stage"]),
            product=opt_str(raw, "product"),
            rules_version=str(raw["rules_version"]),
        )
