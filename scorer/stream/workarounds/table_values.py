"""A Faust table `value_type` that chooses the changelog codec and keeps live objects.

Faust tables take no `value_serializer` (faust-streaming #556, PR #659 open): a table's
changelog serializer comes from `value_type._options.serializer`, and decoded payloads
go through `value_type.from_data`. This shim provides both, so the memory store holds
live core objects and only the changelog holds the codec's bytes. Checked on
faust-streaming 0.15.3; the canary builds a table with it and fails when Faust stops
taking the serializer from there.
"""

from __future__ import annotations

from typing import Any


def value_type_for_codec(codec_name: str) -> type:
    """A `value_type` whose changelog values use the registered codec `codec_name`."""

    class _Options:
        serializer = codec_name

    class CoreStateValue:
        _options = _Options

        @classmethod
        def from_data(cls, data: Any, preferred_type: Any = None) -> Any:
            return data

    CoreStateValue.__name__ = f"CoreStateValue[{codec_name}]"
    return CoreStateValue
