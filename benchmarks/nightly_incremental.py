"""How the nightly run's cost grows with what is new, not with history.

Builds a demo world, holds back a random 10% of its posts (with their metrics and boosts), then times four
nights on one home, side by side:
  1. first night: everything is new (ingest all, decode every video, train the first champion, score);
  2. nothing new: the same folder again at the same time (the night repeats itself);
  3. a night with 10% new posts: the held-back posts arrive;
  4. the next day with nothing new: the same folder a day later (it scores again: features move with time).
The first three score at the world's end. `--mode` says how a night runs:
  - `inprocess` (default): `run_nightly` in this process: the work itself, without start-up;
  - `cli`: `sparkpick nightly --no-prefect` as its own process, as cron would start it (start-up included);
  - `prefect`: `sparkpick nightly` as its own process, as a Prefect flow (with no PREFECT_API_URL set,
    Prefect starts its temporary server, as a first-time user would see).

`--clips A.mp4 B.mp4` replaces the demo's small clips by distinct copies of phone-size ones (1080x1920, 20 s,
as `benchmarks/video_speed.py` makes them), so that the first night costs what a brand's export would.

    .venv/bin/python benchmarks/nightly_incremental.py [--posts 200] [--mode cli] [--clips A.mp4 B.mp4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from flows.nightly import NightlyResult, run_nightly
from sparkpick.config import Settings, load_settings, with_overrides
from sparkpick.files import atomic_path
from sparkpick.home import Home
from sparkpick.sources.demo.source import demo_world_folder

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


def swap_in_clips(world: Path, clips: list[Path]) -> None:
    """Replace every video of the world by a phone-size clip (cycling through `clips`), each a distinct
    file: a copy remuxed with its own metadata (no re-encoding), so the content-hash cache cannot fold them
    into one. The first night then decodes what a brand's export holds rather than the demo's tiny clips."""
    import av

    for k, video in enumerate(sorted((world / "videos").glob("*.mp4"))):
        source = clips[k % len(clips)]
        with atomic_path(video) as tmp, av.open(str(source)) as src, av.open(str(tmp), "w") as dst:
            dst.metadata["comment"] = f"sparkpick benchmark copy {k}"
            stream_in = src.streams.video[0]
            stream_out = dst.add_stream_from_template(stream_in)
            for packet in src.demux(stream_in):
                if packet.dts is None:
                    continue
                packet.stream = stream_out
                dst.mux(packet)


def timed_night(home: Home, settings: Settings, folder: Path, as_of: pd.Timestamp) -> tuple[NightlyResult, float]:
    night = with_overrides(settings, {"ingest": {"source": f"local:{folder}"}})
    start = time.perf_counter()
    result = run_nightly(home, night, as_of=as_of)
    return result, time.perf_counter() - start


def cli_night(home: Home, folder: Path, as_of: pd.Timestamp, overlay: str, prefect: bool) -> tuple[list[str], float]:
    """One `sparkpick nightly` process, as cron or a user starts it; returns the report's notes and wall time."""
    import json

    from flows.nightly import report_date

    config = home.root.parent / "night.yaml"
    config.write_text(overlay + f"ingest:\n  source: 'local:{folder}'\n", encoding="utf-8")
    command = [str(Path(sys.executable).with_name("sparkpick")), "--home", str(home.root), "--config", str(config),
               "nightly", "--as-of", as_of.isoformat(), *([] if prefect else ["--no-prefect"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_TRACKING"))}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"sparkpick nightly failed (exit {done.returncode})")
    for line in (done.stdout + done.stderr).splitlines():  # why the night ran its stages, or did not
        if "changed since" in line or "without starting Prefect" in line:
            print("   ", line.split(" INFO ")[-1][:200], flush=True)
    info = json.loads((home.reports / report_date(as_of, "UTC") / "report.json").read_text(encoding="utf-8"))
    return list(info.get("notes") or []), wall


def _count(notes: list[str], pattern: str) -> int:
    for note in notes:
        if found := re.match(pattern, note):
            return int(found.group(1))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--advertisers", type=int, default=2)
    parser.add_argument("--creators", type=int, default=5, help="creators per advertiser")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--new-fraction", type=float, default=0.10)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--mode", choices=("inprocess", "cli", "prefect"), default="inprocess")
    parser.add_argument("--clips", type=Path, nargs="+", default=[],
                        help="phone-size clips to stand in for the demo's videos (e.g. video_speed.py's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("mlflow", "alembic", "httpx", "prefect"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    root = args.keep or Path(tempfile.mkdtemp(prefix="sp-bench-nightly-"))
    base = load_settings()
    size = {"advertisers": args.advertisers, "creators_per_advertiser": args.creators, "posts": args.posts,
            "days": args.days, "max_duration_s": None}
    settings = with_overrides(base, {"world": {"sizes": {"bench": size}}, "nightly": {"retry_delay_s": 0}})
    as_of = pd.Timestamp(settings.world.end)
    try:
        print(f"Building a demo world of {args.posts} posts in {root} ...", flush=True)
        t0 = time.perf_counter()
        builder = Home.at(root / "builder").ensure()
        world = demo_world_folder(builder, settings, size="bench")
        print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.clips:
            print(f"  replacing its videos by distinct copies of {', '.join(p.name for p in args.clips)} ...",
                  flush=True)
            swap_in_clips(world, args.clips)
        posts = pd.read_csv(world / "posts.csv", dtype=str)
        rng = np.random.default_rng(settings.world.seed)
        n_new = max(1, round(args.new_fraction * len(posts)))
        held_back = set(rng.choice(posts["post_id"].to_numpy(), size=n_new, replace=False))
        source = root / "export"
        subset_world(world, source, held_back)

        home = Home.at(root / "home").ensure()
        # The CLI nights read the same world sizes and retry delay from an overlay file.
        overlay = (f"world:\n  sizes:\n    bench: {{advertisers: {args.advertisers}, creators_per_advertiser: "
                   f"{args.creators}, posts: {args.posts}, days: {args.days}, max_duration_s: null}}\n"
                   "nightly:\n  retry_delay_s: 0\n  timezone: UTC\n")
        # The export folder grows before the third night, as a brand's nightly export would.
        # A real night also moves its as-of time on: the last night has nothing new a day later, so it must
        # score again (features depend on the time) but ingests, decodes and trains nothing.
        next_day = as_of + pd.Timedelta(days=1)
        nights = [("first night", held_back, as_of), ("nothing new", held_back, as_of),
                  (f"{args.new_fraction:.0%} new posts", set(), as_of), ("next day, nothing new", set(), next_day)]
        rows = []
        for label, withheld, night_as_of in nights:
            print(f"Night: {label} ...", flush=True)
            subset_world(world, source, withheld)
            folder = source
            if args.mode != "inprocess":
                notes, total = cli_night(home, folder, night_as_of, overlay, prefect=args.mode == "prefect")
                rows.append({"night": label, "new_rows": _count(notes, r"(\d+) new or changed rows"),
                             "videos_decoded": _count(notes, r"(\d+) videos analysed"),
                             "total_s": round(total, 2)})
                print(f"  {total:.1f} s", flush=True)
                continue
            result, total = timed_night(home, settings, folder, night_as_of)
            if not result.ok:
                print("  stage failures:", result.stage_failures)
            rows.append({"night": label, "new_rows": result.new_rows, "videos_decoded": result.videos_featurized,
                         **{f"{s}_s": result.timings_s.get(s, 0.0) for s in STAGES},
                         "total_s": round(total, 2),
                         "total_without_train_s": round(total - result.timings_s.get("train", 0.0), 2)})
        table = pd.DataFrame(rows).set_index("night")
        table["vs_first"] = (table["total_s"] / table["total_s"].iloc[0]).round(3)
        if "total_without_train_s" in table:
            first = table["total_without_train_s"].iloc[0]
            table["vs_first_(no_train)"] = (table["total_without_train_s"] / first).round(3)
        pd.set_option("display.width", 200)
        print()
        print(f"Nightly cost by night ({args.posts} posts, {n_new} held back; seconds; mode {args.mode}; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
        print(table.to_string())
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
