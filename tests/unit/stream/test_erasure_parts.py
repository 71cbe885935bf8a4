"""Erasure parts without a broker: request parsing, ledgers forgetting an erased lead,
and the verdicts on timer ticks (internal junk)."""

from __future__ import annotations

import orjson
import pytest

from scorer.stream.dead_letters import tick_rejection
from scorer.stream.erasure import parse_request
from scorer.stream.ledger import AlertLedger


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (None, "empty", "0 bytes"),
        (b"{", "not_json", "not JSON"),
        (b'{"type": "erase_request"}', "schema", "lead_id: Field required"),
        (b'{"type": "erase_request", "lead_id": ""}', "schema", "lead_id: String should"),
        # An undeclared key can be an email address: the detail never repeats it.
        (
            b'{"type": "erase_request", "lead_id": "L1", "taro@example.com": "x"}',
            "schema",
            "/*: a field the schema does not declare",
        ),
    ],
)
def test_a_bad_erase_request_is_rejected_naming_the_field(
    value: bytes | None, reason: str, detail: str
) -> None:
    rejection = parse_request(value)
    assert not hasattr(rejection, "lead_id")
    assert rejection.reason == reason  # type: ignore[union-attr]
    assert detail in rejection.detail  # type: ignore[union-attr]
    assert "example.com" not in rejection.detail  # type: ignore[union-attr]


def test_a_bad_identity_link_never_repeats_an_undeclared_key() -> None:
    from scorer.stream.identity import parse_link

    rejection = parse_link(b'{"type": "identity.link", "hanako@example.com": 1}')
    assert rejection.reason == "schema"  # type: ignore[union-attr]
    assert "example.com" not in rejection.detail  # type: ignore[union-attr]


def test_an_erase_request_names_the_lead() -> None:
    request = parse_request(b'{"type": "erase_request", "lead_id": "L1", "request_id": "r1"}')
    assert getattr(request, "lead_id", None) == "L1"


def test_a_ledger_forgets_an_erased_leads_ids_and_no_other() -> None:
    ledger = AlertLedger("alerts", {})
    for alert_id in ("lead:L1:mql:1", "lead:L1:sla:1", "lead:L10:mql:1", "account:L1:mqa:1"):
        ledger.record(0, alert_id)
    ledger.erase(0, "L1")
    assert not ledger.seen(0, "lead:L1:mql:1")
    assert not ledger.seen(0, "lead:L1:sla:1")
    assert ledger.seen(0, "lead:L10:mql:1")
    assert ledger.seen(0, "account:L1:mqa:1")


@pytest.mark.parametrize(
    ("value", "partition", "reason"),
    [
        (orjson.dumps({"v": 1, "partition": 2, "now": 1.5}), 2, None),
        (None, 0, "empty"),
        (b"tick", 0, "not_json"),
        (orjson.dumps({"v": 1, "partition": 2, "now": 1.5}), 3, "schema"),
        (orjson.dumps({"v": 2, "partition": 0, "now": 1.5}), 0, "schema"),
        (orjson.dumps({"v": 1, "partition": 0, "now": "soon"}), 0, "schema"),
        (orjson.dumps([1]), 0, "schema"),
    ],
)
def test_only_a_workers_tick_fires_timers(
    value: bytes | None, partition: int, reason: str | None
) -> None:
    rejection = tick_rejection(value, partition)
    assert (rejection.reason if rejection else None) == reason
