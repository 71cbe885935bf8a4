"""Flat JSON-ready records of core state, for Kafka changelogs and replay output.

Every state record has `"v"` (the schema version: 1, or for `lead_state` records the
compact 2 of `lead_records.py`) and a `"type"`. A record written by a
newer scorer (higher `v`) is refused with `RecordVersionError` rather than misread.
Floats stay floats (JSON round-trips them exactly), tuples become lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorer.core.events import FieldValue

RECORD_VERSION = 1


class RecordVersionError(ValueError):
    """The record was written with a schema version this code does not know."""


def check_version(
    raw: Mapping[str, object], expected_type: str, newest: int = RECORD_VERSION
) -> int:
    """The record's schema version, checked against `newest` (the type's own latest)."""
    version = raw.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordVersionError(f"{expected_type} record has no integer schema version 'v'")
    if version > newest:
        raise RecordVersionError(
            f"{expected_type} record has schema version {version}; this scorer reads up to "
            f"{newest} (upgrade the scorer before reading this state)"
        )
    if version < 1:
        raise RecordVersionError(f"{expected_type} record has invalid schema version {version}")
    kind = raw.get("type")
    if kind != expected_type:
        raise ValueError(f"expected a {expected_type} record, got type {kind!r}")
    return version


def req_float(raw: Mapping[str, object], key: str) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)


def opt_float(raw: Mapping[str, object], key: str) -> float | None:
    if raw.get(key) is None:
        return None
    return req_float(raw, key)


def req_int(raw: Mapping[str, object], key: str) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return value


def opt_str(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


def req_list(raw: Mapping[str, object], key: str) -> list[Any]:
    value = raw[key]
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def field_value(value: object) -> FieldValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"not a flat field value: {value!r}")


def field_map(value: object) -> dict[str, FieldValue]:
    if not isinstance(value, dict):
        raise ValueError("expected an object of fields")
    return {str(k): field_value(v) for k, v in value.items()}
