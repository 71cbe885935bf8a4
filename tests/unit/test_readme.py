"""The README documents every setting and every topic (its tables are generated)."""

from __future__ import annotations

from pathlib import Path

from scorer.contracts.topics import load_topics
from scorer.settings import describe_settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    for name, _, doc in describe_settings():
        assert f"| `{name}` |" in README, name
        assert doc in README, name


def test_every_topic_is_listed() -> None:
    for spec in load_topics():
        assert f"`{spec.name}`" in README, spec.name


def test_the_two_commands_are_there() -> None:
    assert "./scripts/run" in README
    assert "./scripts/test" in README
