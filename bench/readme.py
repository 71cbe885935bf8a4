"""Put a benchmark run into README.md: `python -m bench.readme [RESULTS.json]`.

The README's "Benchmark" section carries the run between two marker comments; this
replaces what is between them with the run's tables (the newest bench/results/*.json when
no file is named), so the section is refreshed from the results, never retyped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from bench import report
from bench.common import REPO, RESULTS_DIR

START = "<!-- bench-run:start (python -m bench.readme) -->"
END = "<!-- bench-run:end -->"


def with_run(readme: str, run: str) -> str:
    """`readme` with the text between the markers replaced by `run`."""
    if readme.count(START) != 1 or readme.count(END) != 1:
        raise ValueError(f"README.md needs exactly one {START!r} and one {END!r}")
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n\n{run.strip()}\n\n{END}{tail}"


def newest_results(directory: Path = RESULTS_DIR) -> Path:
    runs = sorted(directory.glob("*.json"))
    if not runs:
        raise SystemExit(f"no results in {directory}: run scripts/bench first")
    return runs[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, help="a bench/results/*.json file")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = parser.parse_args(argv)
    path = args.results or newest_results()
    results = orjson.loads(path.read_bytes())
    readme = args.readme.read_text(encoding="utf-8")
    args.readme.write_text(with_run(readme, report.markdown(results, level=4)), encoding="utf-8")
    print(f"{args.readme}: the Benchmark section now carries {path}")


if __name__ == "__main__":
    main()
