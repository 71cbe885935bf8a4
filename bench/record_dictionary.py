"""Make the preset dictionary of the compressed state records (scorer/stream/codecs.py).

`python -m bench.record_dictionary` writes scorer/stream/record-dictionary-1.zdict: the
lead and account records of the hand-checked sample files in tests/data (scored with
rules/default.yaml, each event at its own time), shortest first, the last 16 KB. It
gives deflate the record's keys, its structure and the default rules' names without
any of the benchmark's data (other companies, other dates). The file is frozen: records
compressed with it name it by their first byte, so a new dictionary is a new file and
a new first byte, and this one stays readable (tests/unit/stream/test_codecs.py checks
its hash).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from scorer.contracts.events import parse_event
from scorer.core.account import AccountState, apply_lead_signal
from scorer.core.lead import apply_event
from scorer.core.lead_state import LeadState
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream.codecs import DICTIONARY_FILE

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("tests/data/sample-events.jsonl", "tests/data/scenario-events.jsonl")
SIZE = 16 * 1024


def dictionary() -> bytes:
    rules = load_rules(DEFAULT_RULES_FILE)
    leads: dict[str, LeadState] = {}
    accounts: dict[str, AccountState] = {}
    for source in SOURCES:
        for line in (REPO / source).read_bytes().splitlines():
            if not line.strip() or b'"identity.link"' in line:
                continue
            event = parse_event(line)
            now = event.occurred_at + 60
            update = apply_event(leads.get(event.lead_id), event, rules, now)
            leads[event.lead_id] = update.state
            signal = update.account_signal
            if signal is not None:
                folded = apply_lead_signal(accounts.get(signal.account_id), signal, rules, now)
                accounts[signal.account_id] = folded.state
    records = [orjson.dumps(s.to_record()) for s in (*leads.values(), *accounts.values())]
    return b"".join(sorted(records, key=len))[-SIZE:]


def main() -> None:
    DICTIONARY_FILE.write_bytes(dictionary())
    print(f"wrote {DICTIONARY_FILE} ({DICTIONARY_FILE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
