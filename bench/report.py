"""Print one table of every figure the benches wrote to bench/results/*.json.

Each file is a list of rows ``{"measure", "figure", "goal", "ok"}``, written by the bench named
like it (reads.json by reads.py, ...).  Run from the repository root, after the benches:

    .venv/bin/python bench/report.py

Exits with status 1 when a figure misses its goal, 2 when there is nothing to report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ("measure", "figure", "goal", "ok")


def load(folder: Path = RESULTS) -> list[tuple[str, dict]]:
    """Return (bench name, row) for every row of every results file, by file name; skip malformed rows loudly."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            print(f"skipped {path.name}: {error}", file=sys.stderr)
            continue
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and all(key in row for key in FIELDS):
                found.append((path.stem, row))
            else:
                print(f"skipped a row of {path.name}: {row!r}", file=sys.stderr)
    return found


def table(rows: list[tuple[str, dict]]) -> str:
    """Return the rows as one aligned text table."""
    heading = ("bench", "measure", "figure", "goal", "")
    lines = [heading] + [
        (bench, str(row["measure"]), str(row["figure"]), str(row["goal"]), "ok" if row["ok"] else "MISSED")
        for bench, row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(heading))]
    rule = "  ".join("-" * width for width in widths)
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]
    return "\n".join([text[0], rule, *text[1:]])


def main() -> int:
    rows = load()
    if not rows:
        print("no results yet: run the benches first (make bench)")
        return 2
    print(table(rows))
    missed = sum(1 for _, row in rows if not row["ok"])
    print(f"\n{len(rows)} figures, {missed} missing their goal")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
