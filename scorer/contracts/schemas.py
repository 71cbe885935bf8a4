"""JSON Schemas of topic values, generated from the models and kept in topics/schemas/.

Producers in other languages read these files; a contract test fails when they drift
from the models the worker validates with (`scorer topics schemas --write` renews them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from scorer.contracts.erasure import ERASURE_MODEL_BY_SCHEMA, ErasureRecord
from scorer.contracts.events import EVENT_BATCH_SCHEMA_FILE, MODEL_BY_SCHEMA, EventBatch
from scorer.contracts.identity import IDENTITY_MODEL_BY_SCHEMA
from scorer.contracts.outputs import OUTPUT_MODEL_BY_SCHEMA, ActionMessage, HandoffAlert
from scorer.contracts.topics import SCHEMAS_DIR, load_topics

_DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "description": (
        "The original message value, unchanged (it may not be JSON). The headers say why: "
        "scorer.error.topic, scorer.error.partition, scorer.error.offset, scorer.error.class, "
        "scorer.error.reason (not_json, schema, unknown_type, oversized, empty, tombstone, "
        "too_late, future_timestamp, invalid_transition, too_old, rate_limited, scoring_error; "
        "on internal topics also bad_header; any other failure handling a record: "
        "internal_error, or batch_error when storing its batch failed) and scorer.error.detail. "
        "A bad event inside an event-batch envelope is dead-lettered alone: the value is "
        "that event re-serialised as JSON, and scorer.error.index is its position (from 0) "
        "in the envelope's events. The rate-limited events of one envelope are one dead "
        "letter: an event-batch envelope of just them, scorer.error.index their positions "
        "as ranges (e.g. 3-49,52) and scorer.error.count their number."
    ),
}


_REKEYED_DESCRIPTION = "Any input event, unchanged; header scorer.source-topic names its topic."


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema document, for every contract topic."""
    documents: dict[str, dict[str, Any]] = {}
    models = (
        MODEL_BY_SCHEMA
        | OUTPUT_MODEL_BY_SCHEMA
        | ERASURE_MODEL_BY_SCHEMA
        | IDENTITY_MODEL_BY_SCHEMA
    )
    # Erasure records go to the hand-off and actions topics too, in order with them.
    models["handoff-alert.v1.schema.json"] = HandoffAlert | ErasureRecord
    models["action.v1.schema.json"] = ActionMessage | ErasureRecord
    for spec in load_topics():
        if spec.schema == "rekeyed-event.v1.schema.json":
            body = {"description": _REKEYED_DESCRIPTION}
        elif spec.schema in models:
            body = TypeAdapter(models[spec.schema]).json_schema()
        else:
            body = dict(_DEAD_LETTER_SCHEMA)
        documents[spec.schema] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": spec.schema,
            "title": spec.name,
            **body,
        }
        if spec.envelope == EVENT_BATCH_SCHEMA_FILE:
            documents[spec.envelope] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": spec.envelope,
                **TypeAdapter(EventBatch).json_schema(by_alias=True),
            }
    return documents


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(directory: Path = SCHEMAS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = directory / name
        path.write_text(_render(document), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    stale = []
    for name, document in schema_documents().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != _render(document):
            stale.append(name)
    return stale
