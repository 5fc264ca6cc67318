"""Growth: how each stage's time and memory grow with posts, from the tiny world up.

For each demo world size, a fresh home runs the stages as the CLI does, each in its own process:
  ingest          sparkpick ingest --source local:WORLD
  featurize       sparkpick featurize --workers W          (every video decoded: the first night)
  feature matrix  sparkpick features --training --out F     (past boosts with their labels)
  train           sparkpick train --promote force
  score           sparkpick score --as-of END               (every candidate, with reasons)
Printed per stage and size: wall seconds, peak memory (largest sum of RSS over the process and its
children, sampled every 50 ms), and per-post figures; then the exponent b of time ~ posts^b between the
two largest sizes, which is what the README's extrapolation uses. Process start-up (imports) is part of
every figure, as it is of a night's. The load average is printed: on a shared machine the figures are
upper bounds.

    .venv/bin/python benchmarks/growth.py [--sizes tiny small default large] [--workdir DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

from sparkpick.config import load_settings
from sparkpick.sources.demo import build_world

STAGES = ("ingest", "featurize", "feature matrix", "train", "score")


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, process plus children) of one command; raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small", "default", "large"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sparkpick-growth"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--world", action="append", default=[], metavar="SIZE=DIR",
                        help="use an existing world folder for a size (repeatable)")
    args = parser.parse_args()
    settings = load_settings()
    given = dict(item.split("=", 1) for item in args.world)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": os.pathsep.join(sys.path)}
    cli = [str(Path(sys.executable).with_name("sparkpick"))]  # the command as users start it (the launcher)
    end = pd.Timestamp(settings.world.end).isoformat()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rows = []
    for size in args.sizes:
        world = Path(given[size]) if size in given else args.workdir / "worlds" / size
        if not (world / "posts.csv").exists():
            print(f"building the {size} world in {world} ...", flush=True)
            build_world(world, settings, size=size, workers=args.workers)
        posts = len(pd.read_csv(world / "posts.csv", usecols=["post_id"]))
        videos = len(list((world / "videos").glob("*.mp4")))
        home = args.workdir / "homes" / size
        shutil.rmtree(home, ignore_errors=True)
        base = [*cli, "--home", str(home)]
        commands = {
            "ingest": [*base, "ingest", "--source", f"local:{world}"],
            "featurize": [*base, "featurize", "--workers", str(args.workers)],
            "feature matrix": [*base, "features", "--training", "--out", str(home / "training.parquet")],
            "train": [*base, "train", "--promote", "force"],
            "score": [*base, "score", "--as-of", end],
        }
        for stage in STAGES:
            wall, peak = _run(commands[stage], env)
            rows.append({"size": size, "posts": posts, "videos": videos, "stage": stage, "seconds": round(wall, 2),
                         "peak_mb": round(peak), "ms_per_post": round(1000 * wall / posts, 2)})
            print(f"  {size:<8} {stage:<15} {wall:8.2f} s  {peak:7.0f} MB", flush=True)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print()
    print(table.pivot(index="stage", columns="size", values="seconds").reindex(STAGES)[args.sizes]
          .to_string(float_format=lambda x: f"{x:.2f}"))
    print()
    print("peak memory, MB")
    print(table.pivot(index="stage", columns="size", values="peak_mb").reindex(STAGES)[args.sizes].to_string())
    if len(args.sizes) >= 2:
        a, b = args.sizes[-2], args.sizes[-1]
        pa, pb = table.loc[table["size"] == a, "posts"].iloc[0], table.loc[table["size"] == b, "posts"].iloc[0]
        print()
        print(f"growth exponent between {a} ({pa} posts) and {b} ({pb} posts): time ~ posts^b")
        for stage in STAGES:
            ta = table.loc[(table["size"] == a) & (table["stage"] == stage), "seconds"].iloc[0]
            tb = table.loc[(table["size"] == b) & (table["stage"] == stage), "seconds"].iloc[0]
            print(f"  {stage:<15} b = {math.log(tb / ta) / math.log(pb / pa):.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
