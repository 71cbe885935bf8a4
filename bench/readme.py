"""Put a benchmark run into README.md: `python -m bench.readme [RUN.md]`.

The README's "Benchmark" section carries the run between two marker comments; this
replaces what is between them with the run's tables as `scripts/bench` wrote them
(bench/results/latest.md unless another file is named), its sections one heading level
down, so the section is refreshed from the results, never retyped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def one_level_down(run: str) -> str:
    """latest.md's `###` sections as `####` (they sit under the README's "### A run")."""
    return "\n".join("#" + line if line.startswith("#") else line for line in run.split("\n"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "run", nargs="?", type=Path, default=RESULTS_DIR / "latest.md",
        help="the run's Markdown, as scripts/bench wrote it",
    )  # fmt: skip
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = parser.parse_args(argv)
    path: Path = args.run
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run scripts/bench first")
    run = one_level_down(path.read_text(encoding="utf-8"))
    readme = args.readme.read_text(encoding="utf-8")
    args.readme.write_text(with_run(readme, run), encoding="utf-8")
    print(f"{args.readme}: the Benchmark section now carries {path}")


if __name__ == "__main__":
    main()
