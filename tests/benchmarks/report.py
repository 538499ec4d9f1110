"""Ratios from a pytest-benchmark JSON file: each group's tests against its baseline.

    python -m pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json
    python tests/benchmarks/report.py bench.json

In each group the baseline is the test whose name contains "handwritten" or
"reference"; every other test is reported as median(test) / median(baseline) and
min(test) / min(baseline) (the minimum is the steadier figure on a shared machine).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def ratios(path: str) -> list[tuple[str, str, float, float, float, float]]:
    data = json.load(open(path))
    groups = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b["group"]].append(b)
    rows = []
    for group, benches in sorted(groups.items()):
        base = [b for b in benches if "handwritten" in b["name"] or "reference" in b["name"]]
        if not base:
            continue
        ref, ref_min = base[0]["stats"]["median"], base[0]["stats"]["min"]
        for b in benches:
            if b is base[0]:
                continue
            st = b["stats"]
            rows.append((group, b["name"], st["median"] * 1e3, ref * 1e3, st["median"] / ref, st["min"] / ref_min))
    return rows


def main(argv: list[str]) -> None:
    print("| group | test | median (ms) | baseline median (ms) | ratio of medians | ratio of minima |")
    print("|---|---|---|---|---|---|")
    for group, name, t, ref, r, rmin in ratios(argv[1]):
        print(f"| {group} | {name} | {t:.2f} | {ref:.2f} | {r:.3f} | {rmin:.3f} |")


if __name__ == "__main__":
    main(sys.argv)
