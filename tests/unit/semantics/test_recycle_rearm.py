"""Point 4: which thresholds recycling re-arms (`rearm_on_recycle`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.semantics.replaying import at, event, of_type, score_file

RULES = """
version: rearm.1
categories: {web: {half_life: never}}
engagement:
  rules:
    - {id: visit, on: web.page_view, points: 10}
thresholds:
  - {name: warm, value: 50, rearm_below: 40 %s}
  - {name: mql, value: 80, rearm_below: 60, moves_to: mql}
lifecycle: {recycle: {engagement: discount, factor: 0.5}}
"""


def _journey() -> list[dict[str, object]]:
    # 90 points (warm:1, mql:1), rejected -> recycled at 45 (above warm's re-arm line 40),
    # then 55 (crosses warm again) and 85 (crosses mql again).
    views = [event(n, "web.page_view", at(hours=n)) for n in range(9)]
    rejected = event(9, "feedback.rejected", at(hours=9), reason="not now")
    later = [event(n, "web.page_view", at(days=1, hours=n)) for n in range(10, 14)]
    return [*views, rejected, *later]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", ["lead:L1:warm:1", "lead:L1:mql:1", "lead:L1:mql:2"]),
        (", rearm_on_recycle: false", ["lead:L1:warm:1", "lead:L1:mql:1", "lead:L1:mql:2"]),
        (
            ", rearm_on_recycle: true",
            ["lead:L1:warm:1", "lead:L1:mql:1", "lead:L1:warm:2", "lead:L1:mql:2"],
        ),
    ],
    ids=["default-only-handoff-lines", "false", "true"],
)
def test_recycling_rearms_the_handoff_line_and_others_only_when_asked(
    tmp_path: Path, setting: str, expected: list[str]
) -> None:
    records = score_file(tmp_path, RULES % setting, _journey())
    assert [a["alert_id"] for a in of_type(records, "alert")] == expected


def test_a_handoff_line_can_opt_out_of_rearming(tmp_path: Path) -> None:
    rules = RULES.replace(
        "rearm_below: 60, moves_to: mql}",
        "rearm_below: 40, moves_to: mql, rearm_on_recycle: false}",
    )
    records = score_file(tmp_path, rules % "", _journey())
    # 45 after recycling never drops below this mql's re-arm line 40: no second hand-off.
    assert [a["alert_id"] for a in of_type(records, "alert")] == [
        "lead:L1:warm:1",
        "lead:L1:mql:1",
    ]
