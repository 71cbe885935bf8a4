"""Switches for the fast paths, which tests/property/test_fast_paths.py turns off to
compare both ways."""

# `placement.place` and `placement.append_in_order` compute an in-order event's point
# directly instead of through `timeline.recompute`.
IN_ORDER_SHORTCUT = True
# `lead.apply_event` hands an event that only cancels scenarios to
# `handoff_loop.after_cancels` instead of the full `after_event`.
CANCEL_SHORTCUT = True
