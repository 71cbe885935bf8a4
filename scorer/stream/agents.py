"""Agents and timers of a scorer worker. Bodies stay short: the context does the work."""

from __future__ import annotations

import faust

from scorer.stream.handlers import ScorerContext


def register(app: faust.App, ctx: ScorerContext) -> None:
    @app.agent(ctx.lead_events, name="score-lead-events")
    async def score_lead_events(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            ctx.handle_lead_message(event.message)

    @app.agent(ctx.account_signals, name="fold-account-signals")
    async def fold_account_signals(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            ctx.handle_account_message(event.message)

    @app.timer(ctx.settings.redis_flush_interval_s)
    async def flush_read_model() -> None:
        await ctx.read_model.flush()

    @app.timer(5.0)
    async def observe_tables() -> None:
        leads, accounts = ctx.table_sizes()
        ctx.metrics.leads_tracked.set(leads)
        ctx.metrics.accounts_tracked.set(accounts)
