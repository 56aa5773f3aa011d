"""Markdown table of validation-only tuning runs, seeds of the same variant grouped.

Run: ``python bench/tuning_table.py bench/results/gpu_tuning/*.json`` (files written by
``bench/quality_ml1m.py --validation-only --json ...``, e.g. through
``bench/gpu_tuning.sh``). Only validation numbers exist in those files: tuning never
evaluates the test item.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

IGNORED = ("random_state", "device")


def variant_name(overrides: dict) -> str:
    """``{"num_blocks": 3, "device": "cuda"}`` -> ``num_blocks=3`` (the preset: ``preset``)."""
    parts = [f"{k}={json.dumps(v)}" for k, v in sorted(overrides.items()) if k not in IGNORED]
    return " ".join(parts) or "preset"


def group(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(variant_name(row.get("overrides", {})), []).append(row)
    return groups


def render(groups: dict[str, list[dict]]) -> str:
    lines = [
        "| variant (`--set` on the `ml-1m` preset) | seeds | best val NDCG@10 per seed "
        "| mean | val item full NDCG@10 / HR@10 | val item sampled NDCG@10 / HR@10 |",
        "|---|---|---|---|---|---|",
    ]

    def mean(rows: list[dict], key: str, metric: str) -> float:
        return statistics.mean(r[key][metric] for r in rows)

    order = sorted(groups, key=lambda n: -statistics.mean(
        r["best_val_ndcg@10"] for r in groups[n]))
    for name in order:
        rows = sorted(groups[name], key=lambda r: r["params"]["random_state"])
        per_seed = ", ".join(f"{r['best_val_ndcg@10']:.4f}" for r in rows)
        lines.append(
            f"| `{name}` | {len(rows)} | {per_seed} "
            f"| {statistics.mean(r['best_val_ndcg@10'] for r in rows):.4f} "
            f"| {mean(rows, 'valid_full', 'NDCG@10'):.4f} / "
            f"{mean(rows, 'valid_full', 'HR@10'):.4f} "
            f"| {mean(rows, 'valid_sampled', 'NDCG@10'):.4f} / "
            f"{mean(rows, 'valid_sampled', 'HR@10'):.4f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    rows = [row for path in args.files for row in json.loads(path.read_text())]
    print(render(group(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
