"""How the nightly run's cost grows with what is new, not with history.

Builds a demo world, holds back a random 10% of its posts (with their metrics and boosts), then times three
nights on one home, side by side:
  1. first night: everything is new (ingest all, decode every video, train the first champion, score);
  2. second night, nothing new: the same folder again (no video decoded);
  3. a night with 10% new posts: the held-back posts arrive.
All three score at the world's end. Stages run through `run_nightly` (no Prefect, so the figures are the
work itself, not the orchestrator's start-up).

    .venv/bin/python benchmarks/nightly_incremental.py [--posts 200] [--advertisers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from flows.ingest import demo_world_folder
from flows.nightly import NightlyResult, run_nightly
from sparkpick.config import Home, Settings, load_settings, with_overrides

STAGES = ("ingest", "featurize", "train", "score", "report")


def subset_world(world: Path, out: Path, held_back: set[str]) -> None:
    """A copy of the world's tables without the held-back posts (video files hard-linked)."""
    out.mkdir(parents=True, exist_ok=True)
    for csv in world.glob("*.csv"):
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        if "post_id" in frame.columns:
            frame = frame[~frame["post_id"].isin(held_back)]
        frame.to_csv(out / csv.name, index=False)
    # Hard links, not a symlink: the folder reader refuses video paths that resolve outside the folder.
    videos = out / "videos"
    videos.mkdir(exist_ok=True)
    for video in (world / "videos").iterdir():
        target = videos / video.name
        if not target.exists():
            try:
                os.link(video, target)
            except OSError:
                shutil.copy2(video, target)


def timed_night(home: Home, settings: Settings, folder: Path, as_of: pd.Timestamp) -> tuple[NightlyResult, float]:
    night = with_overrides(settings, {"ingest": {"source": f"local:{folder}"}})
    start = time.perf_counter()
    result = run_nightly(home, night, as_of=as_of)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--advertisers", type=int, default=2)
    parser.add_argument("--creators", type=int, default=5, help="creators per advertiser")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--new-fraction", type=float, default=0.10)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("mlflow", "alembic", "httpx", "prefect"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    root = args.keep or Path(tempfile.mkdtemp(prefix="sp-bench-nightly-"))
    base = load_settings()
    size = {"advertisers": args.advertisers, "creators_per_advertiser": args.creators, "posts": args.posts,
            "days": args.days}
    settings = with_overrides(base, {"world": {"sizes": {"bench": size}}, "nightly": {"retry_delay_s": 0}})
    as_of = pd.Timestamp(settings.world.end)
    try:
        print(f"Building a demo world of {args.posts} posts in {root} ...", flush=True)
        t0 = time.perf_counter()
        builder = Home.at(root / "builder").ensure()
        world = demo_world_folder(builder, settings, size="bench")
        print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
        posts = pd.read_csv(world / "posts.csv", dtype=str)
        rng = np.random.default_rng(settings.world.seed)
        n_new = max(1, round(args.new_fraction * len(posts)))
        held_back = set(rng.choice(posts["post_id"].to_numpy(), size=n_new, replace=False))
        source = root / "export"
        subset_world(world, source, held_back)

        home = Home.at(root / "home").ensure()
        # The export folder grows before the third night, as a brand's nightly export would.
        nights = [("first night", held_back), ("nothing new", held_back),
                  (f"{args.new_fraction:.0%} new posts", set())]
        rows = []
        for label, withheld in nights:
            print(f"Night: {label} ...", flush=True)
            subset_world(world, source, withheld)
            folder = source
            result, total = timed_night(home, settings, folder, as_of)
            if not result.ok:
                print("  stage failures:", result.stage_failures)
            rows.append({"night": label, "new_rows": result.new_rows, "videos_decoded": result.videos_featurized,
                         **{f"{s}_s": result.timings_s.get(s, 0.0) for s in STAGES},
                         "total_s": round(total, 2),
                         "total_without_train_s": round(total - result.timings_s.get("train", 0.0), 2)})
        table = pd.DataFrame(rows).set_index("night")
        first = table["total_without_train_s"].iloc[0]
        table["vs_first_(no_train)"] = (table["total_without_train_s"] / first).round(3)
        pd.set_option("display.width", 200)
        print()
        print(f"Nightly cost by night ({args.posts} posts, {n_new} held back; seconds, one process, 2-core machine)")
        print(table.to_string())
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
