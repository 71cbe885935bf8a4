"""Every place the scorer reaches into faust-streaming's or aiokafka's internals.

Nothing outside this package touches a private name of either library (ruff's `SLF`
rule flags it). Each module says which upstream behaviour it works around, the upstream
issue, the versions it was checked on, and has a canary test in
tests/unit/stream/workarounds/ that fails when upstream changes what it relies on: then
the workaround is either adapted or, if upstream fixed the cause, deleted.

Checked on faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0
(pyproject.toml caps faust-streaming below 0.16 for these):

- `recovery`: stream partitions are sought to their committed offsets before anything
  is fetched at the end of a table recovery (faust-streaming #216 / PR #217, for apps
  with tables).
- `recovery_loop`: table recovery takes every changelog record already queued per
  wake-up instead of one per `wait_for` (faust-streaming #208, robinhood/faust #466).
- `recovery_bulk`: table recovery reads the active changelog partitions in whole fetches
  into the stores, then leaves Faust nothing to read (faust-streaming #208, robinhood/faust
  #466: recovery record by record); off with SCORER_BULK_RECOVERY=false.
- `producer_buffer`: the producer buffer's flush drains completely before offsets are
  committed (faust-streaming PR #273, PR #112: the stock flush gives up after 0.1 s).
- `stall_guard`: input partitions that stopped being fetched are noticed and fetched
  again (faust-streaming #175, #640).
- `consumer_offsets`: the read and committed offsets of a partition (no public accessor).
- `fetch_wait`: the consumer's `fetch_max_wait_ms`, hard-coded to 1500 in Faust.
- `bulk_changelog`: a checkpoint's changed keys written in bulk: the store once per
  partition (a RocksDB `WriteBatch`), the changelog records in batches per partition
  through the aiokafka producer inside Faust's, the persisted offset from each batch's
  acknowledgement (Faust has no bulk table write; related: faust-streaming #51, #497).
- `deferred_acks`: a batch's events acknowledged at the checkpoint that writes their
  states, not when `take_events` moves on (faust-streaming #189, PR #192).
- `table_size`: a RocksDB table's key count from RocksDB's estimate, not by iterating
  every key (Faust's `len`), for `scorer_leads_tracked`; one partition's keys from its
  own database (Faust lists every assigned partition's), for the timer index and the
  read-model copy.
- `eager_delivery`: the consumer hands a fetched message to the agents' channels in
  place, not through four tasks per message (`Consumer._drain_messages`' `wait_first`;
  related: faust-streaming #229, robinhood/faust #563).
- `lean_batches`: an agent's events taken in batches straight from its channel's queue,
  with the stream iterator's per-event steps (skip, track, sensors, ack) but without
  its per-event loop turn, coroutines and processor (robinhood/faust #563).
- `worker_logging`: the worker leaves the root logger at the level asked for (Faust sets
  it to DEBUG for its spinner at WARN and above; related: faust-streaming #495).
"""
