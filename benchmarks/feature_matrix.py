"""Time the point-in-time feature matrices on a demo world (tables only, no videos).

    .venv/bin/python benchmarks/feature_matrix.py [--size default] [--sample 40]

Prints: world size; candidate_matrix for every advertiser at the world's end; training_matrix for every
past boost (vectorised, each boost featurised at its own time); and, side by side in the same run, the
naive alternative of one candidate_matrix call per boost (timed on a sample, extrapolated), as a ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import pandas as pd

from features.matrix import candidate_matrix, feature_columns, training_matrix
from sparkpick.config import load_settings
from sparkpick.contract import as_utc
from sparkpick.sources.demo.tables import generate_tables

T = TypeVar("T")


def _best_of(n: int, fn: Callable[[], T]) -> tuple[float, T]:
    best, out = float("inf"), fn()  # a warm-up call, not timed
    for _ in range(n):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default")
    parser.add_argument("--sample", type=int, default=40, help="boosts timed one by one for the naive loop")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    settings = load_settings()
    tables = generate_tables(settings.world, args.size, settings.world.seed).contract()
    end = as_utc(settings.world.end)
    print(f"world '{args.size}': " + ", ".join(f"{k} {len(v)}" for k, v in tables.items()))

    t_cand, cands = _best_of(args.repeat, lambda: candidate_matrix(tables, end, settings))
    print(f"candidate_matrix at {end}: {len(cands)} rows x {len(feature_columns(cands))} features "
          f"in {t_cand:.2f} s (best of {args.repeat})")

    t_train, train = _best_of(args.repeat, lambda: training_matrix(tables, settings))
    print(f"training_matrix: {len(train)} boosts in {train['group_id'].nunique()} groups "
          f"in {t_train:.2f} s ({1000 * t_train / max(len(train), 1):.1f} ms per boost)")

    sample = train.sample(min(args.sample, len(train)), random_state=0)
    start = time.perf_counter()
    for _, row in sample.iterrows():
        candidate_matrix(tables, pd.Timestamp(row["boosted_at"]), settings, advertiser_id=row["advertiser_id"])
    per_boost = (time.perf_counter() - start) / max(len(sample), 1)
    naive = per_boost * len(train)
    print(f"naive loop (one candidate_matrix per boost): {1000 * per_boost:.0f} ms per boost, "
          f"{naive:.1f} s extrapolated to {len(train)} boosts = {naive / t_train:.0f}x the vectorised time")


if __name__ == "__main__":
    main()
