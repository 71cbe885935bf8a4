"""Agents and timers of a scorer worker. Bodies stay short: the context does the work."""

from __future__ import annotations

from typing import Any

import faust

from scorer.stream.handlers import ScorerContext


def register(app: faust.App, ctx: ScorerContext) -> None:
    @app.agent(ctx.lead_events, name="score-lead-events")
    async def score_lead_events(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await ctx.finish(ctx.handle_lead_message(event.message))

    @app.agent(ctx.account_signals, name="fold-account-signals")
    async def fold_account_signals(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await ctx.finish(ctx.handle_account_message(event.message))

    def forget_revoked_ledgers(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", ())
        ctx.ledger.forget({tp.partition for tp in revoked})

    # Faust's signal type wants a `BaseSignalT` keyword the receiver does not use.
    app.on_partitions_revoked.connect(forget_revoked_ledgers)  # type: ignore[arg-type]

    @app.timer(ctx.settings.redis_flush_interval_s)
    async def flush_read_model() -> None:
        await ctx.read_model.flush()

    @app.timer(5.0)
    async def observe_tables() -> None:
        leads, accounts = ctx.table_sizes()
        ctx.metrics.leads_tracked.set(leads)
        ctx.metrics.accounts_tracked.set(accounts)
