"""`scorer calibrate` end to end on a simulated year, and its HTML report in a real
headless browser (Debian's chromium through Playwright).

The proposal must beat rules/default.yaml on the held-out newer leads (higher recall at
the current rules' MQL volume), pass `scorer rules check`, and its report must render
with no console error and every chart drawn. The screenshot is kept in
test-artifacts/ (or $TEST_ARTIFACTS_DIR) for a human to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scorer.cli import cli
from scorer.rules import load_rules
from scorer.simulator_io import write_history

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHARTS = {"lift", "scores-current", "scores-proposed", "thresholds", "calibration"}


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("calibrate")
    history = work / "history.jsonl"
    write_history(history, 3000, 12, seed=1)
    result = CliRunner().invoke(
        cli,
        ["calibrate", str(history), "--out", str(work / "proposed.yaml"),
         "--rules", str(ROOT / "rules" / "default.yaml"), "--report", str(work / "calibrate"),
         "--capacity", "inside-sales=25/week"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    small = work / "small.jsonl"
    write_history(small, 600, 12, seed=2)
    backtest = CliRunner().invoke(
        cli,
        ["backtest", str(small), "--rules", str(ROOT / "rules" / "default.yaml"),
         "--rules", str(work / "proposed.yaml"), "--report", str(work / "backtest")],
    )  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
    return work, result.output


def test_the_proposal_beats_the_default_rules_on_newer_leads(calibrated: tuple[Path, str]) -> None:
    work, output = calibrated
    line = next(x for x in output.splitlines() if x.startswith("At the current rules' volume"))
    current, proposed = (int(part.split("%")[0].split()[-1]) for part in line.split(",")[-2:])
    assert proposed > current, line
    assert "Suggested threshold:" in output
    check = CliRunner().invoke(cli, ["rules", "check", str(work / "proposed.yaml")])
    assert check.exit_code == 0, check.output
    current = load_rules(ROOT / "rules" / "default.yaml").version
    assert f"ok (version {current}-calibrated." in check.output


@pytest.mark.parametrize(
    ("name", "charts"),
    [
        ("calibrate", CHARTS),
        ("backtest", {"scores-0", "content-0", "scores-1", "content-1", "thresholds"}),
    ],
)
def test_the_report_renders_in_chromium_with_every_chart(
    calibrated: tuple[Path, str], name: str, charts: set[str]
) -> None:
    from playwright.sync_api import sync_playwright

    work, _ = calibrated
    report = work / name / "report.html"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            drawn = page.eval_on_selector_all(
                "figure.chart",
                """els => els.map(e => {
                    const svg = e.querySelector('svg');
                    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                    return [e.dataset.chart, box.width, box.height];
                })""",
            )
            shot = work / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file:")] == [], "the report fetched"
    assert {chart for chart, width, height in drawn if width > 100 and height > 100} == charts, (
        drawn
    )
    artifacts = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / f"{name}-report.png")
    shutil.copy(report, artifacts / f"{name}-report.html")
