"""Scale: video features on a local Dask cluster with 1 and 2 workers, beside the plain local pool.

Side by side in one run, over the same video files (a demo world's videos/ folder):
  pool-1, pool-2   `features.video.pool.run_videos` with 1 and 2 worker processes (what `featurize` does);
  dask-1, dask-2   `features.video.cluster.run_videos_on_cluster` on a `distributed.LocalCluster` of 1 and
                   2 single-threaded worker processes (what `featurize --dask-workers N` does).
After one untimed warm-up video each, every configuration runs `--repeat` times in interleaved order
(pool-1, dask-1, pool-2, dask-2, ...) and the median counts, so that a neighbour's load hits all of them
alike. Cluster start-up is timed apart (a night pays it once). Printed: wall time per configuration, the
speed-up of dask-2 over dask-1 (goal >= 1.7 on a 2-core machine) and the overhead of dask-N over pool-N
(goal <= 10%); the load average before and after, since these figures mean little on a busy machine; and
whether every configuration computed the same cues bit for bit.

    .venv/bin/python benchmarks/dask_scale.py [--world DIR | --size large] [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from features.video.cluster import run_videos_on_cluster, start_local_cluster
from features.video.extract import VideoResult
from features.video.pool import VideoTask, run_videos
from sparkpick.config import VideoConfig, load_settings
from sparkpick.sources.demo import build_world

Results = dict[str, VideoResult]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def _pool(tasks: list[VideoTask], cfg: VideoConfig, workers: int, thumbs: Path) -> Callable[[], Results]:
    def run() -> Results:
        out: Results = {}
        run_videos(tasks, cfg, lambda t, r: out.__setitem__(t.key, r), thumbnail_dir=thumbs, workers=workers,
                   start_method="forkserver")
        return out

    return run


def _same(a: Results, b: Results) -> bool:
    def eq(x: float, y: float) -> bool:
        return x == y or (math.isnan(x) and math.isnan(y))

    return a.keys() == b.keys() and all(
        a[k].status == b[k].status and all(eq(a[k].cues[c], b[k].cues[c]) for c in a[k].cues) for k in a
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, default=None, help="an existing demo world folder")
    parser.add_argument("--size", default="large", help="demo world size to build when --world is not given")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N videos")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    cfg = settings.video
    scratch = Path(tempfile.mkdtemp(prefix="sp-bench-scale-"))
    world = args.world
    if world is None:
        world = scratch / "world"
        print(f"Building the {args.size} demo world in {world} ...", flush=True)
        build_world(world, settings, size=args.size, workers=os.cpu_count() or 2)
    videos = sorted((world / "videos").glob("*.mp4"))[: args.limit]
    tasks = [VideoTask(key=p.name, path=str(p)) for p in videos]
    size_mb = sum(p.stat().st_size for p in videos) / 1e6
    print(f"{len(tasks)} videos ({size_mb:.0f} MB) from {world}")
    print(f"Before: {_load()}", flush=True)

    from distributed import Client

    timings: dict[str, list[float]] = {}
    results: dict[str, Results] = {}
    starts: dict[str, float] = {}
    clusters = {}
    try:
        for n in (1, 2):
            t0 = time.perf_counter()
            cluster = start_local_cluster(n, scratch / f"dask-{n}")
            client = Client(cluster)
            client.wait_for_workers(n)
            starts[f"dask-{n}"] = time.perf_counter() - t0
            clusters[n] = (cluster, client)
        configs: dict[str, Callable[[], Results]] = {}
        for n in (1, 2):
            configs[f"pool-{n}"] = _pool(tasks, cfg, n, scratch / f"thumbs-pool-{n}")
            client = clusters[n][1]
            thumbs = scratch / f"thumbs-dask-{n}"

            def on_cluster(client=client, thumbs=thumbs) -> Results:
                out: Results = {}
                run_videos_on_cluster(tasks, cfg, lambda t, r: out.__setitem__(t.key, r), client,
                                      thumbnail_dir=thumbs)
                return out

            configs[f"dask-{n}"] = on_cluster
        # Warm-up, not timed: the pool's forkserver starts (and imports OpenCV) on first use, the
        # cluster's workers import the extraction code on their first task.
        for n in (1, 2):
            run_videos(tasks[:n], cfg, lambda t, r: None, workers=n, start_method="forkserver")
            run_videos_on_cluster(tasks[:n], cfg, lambda t, r: None, clusters[n][1])
        for rep in range(args.repeat):
            for name, run in configs.items():
                t0 = time.perf_counter()
                results[name] = run()
                timings.setdefault(name, []).append(time.perf_counter() - t0)
                print(f"  round {rep + 1}: {name:<7} {timings[name][-1]:7.2f} s", flush=True)
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
    print(f"After: {_load()}")

    median = {name: statistics.median(ts) for name, ts in timings.items()}
    print()
    print(f"{'config':<8} {'median s':>9} {'videos/s':>9}  runs")
    for name, t in median.items():
        runs = ", ".join(f"{x:.2f}" for x in timings[name])
        print(f"{name:<8} {t:9.2f} {len(tasks) / t:9.2f}  {runs}")
    print(f"cluster start-up (once per run): dask-1 {starts['dask-1']:.1f} s, dask-2 {starts['dask-2']:.1f} s")
    speedup = median["dask-1"] / median["dask-2"]
    print(f"speed-up dask-2 over dask-1: {speedup:.2f}x (goal >= 1.7)")
    print(f"speed-up pool-2 over pool-1: {median['pool-1'] / median['pool-2']:.2f}x (the same, without Dask)")
    for n in (1, 2):
        over = median[f"dask-{n}"] / median[f"pool-{n}"] - 1
        print(f"overhead dask-{n} over pool-{n}: {over:+.1%} (goal <= +10%)")
    reference = results["pool-1"]
    same = all(_same(reference, r) for r in results.values())
    print(f"cues identical bit for bit across all configurations: {'yes' if same else 'NO'}")
    ok = sum(r.status == "ok" for r in reference.values())
    print(f"({ok} ok, {len(reference) - ok} partial or failed)")


if __name__ == "__main__":
    main()
