"""The core imports nothing but the standard library (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ["faust", "aiokafka", "redis", "prometheus_client", "pydantic", "yaml", "orjson"]


def test_importing_the_core_pulls_in_no_third_party_package() -> None:
    code = (
        "import json, sys\n"
        "import scorer.core\n"
        "import scorer.core.replay, scorer.core.migrate, scorer.core.lead_records\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []
