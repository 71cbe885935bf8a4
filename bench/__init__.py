"""Side-by-side benchmark: the scorer, a naive Faust agent (peer) and the raw client (limit).

`scripts/bench` (or `.venv/bin/python -m bench`) runs everything; see README "Benchmark".
"""
