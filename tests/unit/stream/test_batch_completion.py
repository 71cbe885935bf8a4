"""A batch an agent started is finished even when the agent is cancelled (issue 4)."""

from __future__ import annotations

import asyncio

import pytest

from scorer.stream.agents import to_completion


async def test_a_cancelled_agent_finishes_its_batch_before_stopping() -> None:
    steps: list[str] = []
    started = asyncio.Event()

    async def batch() -> None:
        steps.append("alerts published")
        started.set()
        await asyncio.sleep(0.05)  # the broker's acknowledgement
        steps.append("states written")

    agent = asyncio.ensure_future(to_completion(batch()))
    await started.wait()
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await agent
    assert steps == ["alerts published", "states written"]


async def test_a_batch_that_fails_raises_its_own_error() -> None:
    async def batch() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await to_completion(batch())
