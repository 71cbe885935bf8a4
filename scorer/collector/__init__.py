"""The HTTP collector: browsers, web forms and email platforms reach the scorer over HTTP.

`scorer collect` runs it: a stateless aiohttp server that validates what it receives with
the worker's own event models and produces it to the input topics (acks=all, idempotent),
answering only after the broker acknowledged. See docs/collector.md.
"""
