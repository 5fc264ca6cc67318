"""Build a demo world and print how long it took and how credible it is.

Usage: .venv/bin/python benchmarks/demo_world.py [--size small] [--seed 7] [--workdir /tmp/sparkpick-world]

Figures, side by side in one run:
- wall time, CPU time (this process and its render workers), frames rendered and CPU ms per frame;
- Spearman correlation with the true expected uplift (truth.csv, read here only) of: the organic
  engagement rate at 40-100 h (what "rank by engagement" uses), the realised log CPA ratio of past
  boosts (the label the rankers learn), and the hidden polish;
- the gap between produced and native posts in organic engagement versus in expected uplift (polish hurts
  paid much more than organic), and how much more engaging the boosted posts were (the old policy).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sparkpick.config import load_settings
from sparkpick.sources.demo import build_world


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _spearman(a: pd.Series, b: pd.Series) -> float:
    return float(a.rank().corr(b.rank()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sparkpick-world-benchmark"))
    args = parser.parse_args()
    settings = load_settings()
    folder = args.workdir / args.size
    shutil.rmtree(folder, ignore_errors=True)

    wall, cpu = time.perf_counter(), _cpu_seconds()
    summary = build_world(folder, settings, size=args.size, seed=args.seed, workers=args.workers)
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu

    def read(name: str, *times: str) -> pd.DataFrame:
        frame = pd.read_csv(folder / f"{name}.csv", dtype={"post_id": str, "advertiser_id": str})
        for col in times:
            frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_localize(None)
        return frame

    posts = read("posts", "posted_at")
    truth = read("truth").set_index("post_id")
    metrics = read("metrics", "observed_at")
    spark = read("spark_results", "boosted_at")
    baselines = read("baselines", "period_start")
    frames = int((posts.loc[posts["video_path"].notna(), "duration_s"] * posts["fps"]).round().sum())

    m = metrics.merge(posts[["post_id", "posted_at"]], on="post_id")
    age = (m["observed_at"] - m["posted_at"]) / pd.Timedelta(hours=1)
    last = m[(age >= 40) & (age <= 100)].groupby("post_id").last()
    er = (last["likes"] + last["comments"] + last["shares"]) / last["views"].clip(lower=1)
    t = truth.loc[er.index]

    r = spark.merge(posts[["post_id", "advertiser_id"]], on="post_id")
    r["period_start"] = r["boosted_at"].dt.to_period("M").dt.to_timestamp()
    b = baselines.assign(base_cpa=baselines["spend"] / baselines["conversions"].clip(lower=1))
    r = r.merge(b[["advertiser_id", "period_start", "base_cpa"]], on=["advertiser_id", "period_start"])
    r = r[r["conversions"] > 0]
    label = np.log(r["base_cpa"] / (r["spend"] / r["conversions"]))
    produced = t["produced"].astype(bool)
    boosted = er.index.isin(spark["post_id"])

    print(f"world {args.size} (seed {summary.seed}): {summary.posts} posts, {summary.videos} videos, "
          f"{summary.boosts} boosts, {summary.snapshots} snapshots")
    print(f"build: wall {wall:.1f} s, CPU {cpu:.1f} s, {frames} frames, {1000 * cpu / max(frames, 1):.2f} ms CPU/frame")
    print(f"spearman with expected uplift: organic ER {_spearman(er, t['expected_uplift']):+.2f}, "
          f"realised log CPA ratio {_spearman(label, r['post_id'].map(truth['expected_uplift'])):+.2f}, "
          f"polish {_spearman(t['polish'], t['expected_uplift']):+.2f}")
    er_gap = np.log(er[produced].median() / er[~produced].median())
    uplift_gap = t.loc[produced, "expected_uplift"].median() - t.loc[~produced, "expected_uplift"].median()
    print(f"produced vs native: organic ER log-gap {er_gap:+.2f}, expected uplift gap {uplift_gap:+.2f}")
    print(f"old policy: boosted posts' organic ER {er[boosted].mean():.3f} vs not boosted {er[~boosted].mean():.3f}")


if __name__ == "__main__":
    main()
