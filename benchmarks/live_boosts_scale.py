"""How the monitor, the report and a repeated night scale with many live boosts (issue 21, item 8).

Builds a local contract folder from the demo world's tables (no videos: this measures the hourly rows,
not decoding) and adds `--live` live boosts on its posts, each 1 to 96 hours old with its hourly rows
(about 48 a boost), then:

1. `sparkpick ingest` and `sparkpick monitor --as-of END --out F.csv` as users run them (start-up
   included);
2. the report with every live boost's card, written in this process;
3. `sparkpick nightly --no-prefect --as-of END` twice: the first night (it trains the first champion),
   then again with nothing new (the night repeats itself).

Each prints wall and CPU seconds: on a busy machine the CPU time is the steadier figure. `--in-process`
measures only the monitor (`models.monitor.monitor_boosts`) and the report (`write_report`) on the same
tables in this process, in about a minute.

Goal (10,000 live boosts on a 2-core machine): monitor and report each under 10 s, a repeated night under
5 s. Peak memory is the child process's maximum resident size.

    nice -n 10 .venv/bin/python benchmarks/live_boosts_scale.py --live 10000 --size small
    nice -n 10 .venv/bin/python benchmarks/live_boosts_scale.py --live 10000 --in-process
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
COUNTS = ("impressions", "views_2s", "views_6s", "likes", "comments", "shares", "clicks", "conversions")


def live_hourly(posts: pd.DataFrame, end: pd.Timestamp, n: int, seed: int) -> pd.DataFrame:
    """`n` live boosts on the world's posts (several per post, each its own start), 1 to 96 hours old at `end`."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(1, 97, n)
    picked = posts.iloc[rng.integers(0, len(posts), n)]
    ok = pd.to_datetime(picked["posted_at"]).to_numpy() <= (end - pd.Timedelta(days=5)).to_datetime64()
    picked, ages = picked[ok], ages[ok]
    # Seconds past the hour tell boosts of one post apart; a repeated (post, start) is dropped.
    offsets = pd.to_timedelta(np.arange(len(picked)) % 3000, unit="s")
    boosted = (end.floor("h") - pd.to_timedelta(ages, unit="h")) + offsets
    unique = ~pd.DataFrame({"p": picked["post_id"].to_numpy(), "b": boosted}).duplicated().to_numpy()
    picked, ages, boosted = picked[unique], ages[unique], boosted[unique]
    boost = np.repeat(np.arange(len(picked)), ages)
    offset = np.concatenate([np.arange(a) for a in ages])
    spend = np.round(rng.gamma(2.0, 3.0, len(boost)), 2)
    impressions = rng.poisson(spend * 100)
    frame = pd.DataFrame({
        "post_id": picked["post_id"].to_numpy()[boost],
        "boosted_at": boosted.to_numpy()[boost],
        "hour_start": (pd.DatetimeIndex(boosted).floor("h").to_numpy()[boost] + offset * np.timedelta64(1, "h")),
        "spend": spend, "impressions": impressions,
    })
    frame["views_2s"] = rng.binomial(impressions, 0.3)
    frame["views_6s"] = rng.binomial(frame["views_2s"], 0.4)
    for col in ("likes", "comments", "shares"):
        frame[col] = rng.binomial(frame["views_2s"], 0.01)
    frame["clicks"] = rng.binomial(impressions, 0.01)
    frame["conversions"] = rng.poisson(spend / 25.0)
    return frame


def build_folder(folder: Path, size: str, live: int, seed: int) -> pd.Timestamp:
    from sparkpick.config import load_settings
    from sparkpick.sources.demo.tables import generate_tables

    settings = load_settings()
    end = pd.Timestamp(settings.world.end)
    tables = generate_tables(settings.world, size, settings.world.seed).contract()
    tables["posts"] = tables["posts"].assign(video_path=None)
    extra = live_hourly(tables["posts"], end, live, seed)
    tables["spark_hourly"] = pd.concat([tables["spark_hourly"], extra], ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.to_csv(folder / f"{name}.csv", index=False)
    return end


def timed_cli(home: Path, *args: str) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and the children's peak resident MB so far of one `sparkpick` command."""
    command = [str(Path(sys.executable).parent / "sparkpick"), "--home", str(home), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, after.ru_maxrss / 1024, done.stdout + done.stderr


def in_process(size: str, live: int, seed: int) -> None:
    """The monitor and the report alone, in this process, on the same tables (no files, no start-up)."""
    from models.monitor import monitor_boosts
    from sparkpick.clock import hours_ended_by
    from sparkpick.config import load_settings
    from sparkpick.report import MonitorView, ReportMeta, write_report
    from sparkpick.sources.demo.tables import generate_tables

    settings = load_settings()
    end = pd.Timestamp(settings.world.end)
    tables = generate_tables(settings.world, size, settings.world.seed).contract()
    hourly = pd.concat([tables["spark_hourly"], live_hourly(tables["posts"], end, live, seed)], ignore_index=True)
    hourly = hours_ended_by(hourly, end).reset_index(drop=True)
    start, cpu0 = time.perf_counter(), time.process_time()
    boosts = monitor_boosts(hourly, tables["spark_results"], tables["baselines"], tables["posts"], end, settings)
    print(f"monitor_boosts, {len(boosts)} live boosts, {len(hourly):,} hourly rows: "
          f"{time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu0:.1f} CPU s", flush=True)
    meta = ReportMeta(as_of=end.to_pydatetime(), ran_at=end.to_pydatetime(), model_version=None,
                      candidates_considered=0, polish_ad_threshold=65.0)
    live_rows = hourly.merge(boosts[["post_id", "boosted_at"]], on=["post_id", "boosted_at"])
    with tempfile.TemporaryDirectory() as folder:
        start, cpu0 = time.perf_counter(), time.process_time()
        write_report(pd.DataFrame(), meta, Path(folder), end.date().isoformat(), thumbnails={},
                     monitor=MonitorView(boosts=boosts, hourly=live_rows))
        print(f"write_report with {len(boosts)} live boost cards: {time.perf_counter() - start:.1f} s wall, "
              f"{time.process_time() - cpu0:.1f} CPU s", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident {peak:.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, default=10_000, help="live boosts to add")
    parser.add_argument("--size", default="small", help="demo world size for the rest of the tables")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the home here and keep it (default: a temporary folder)")
    parser.add_argument("--in-process", action="store_true",
                        help="only the monitor and the report, in this process (a minute, not a night)")
    args = parser.parse_args()
    if args.in_process:
        in_process(args.size, args.live, args.seed)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="live-boosts-"))
    folder, home = root / "source", root / "home"
    t0 = time.perf_counter()
    end = build_folder(folder, args.size, args.live, args.seed)
    rows = sum(1 for _ in (folder / "spark_hourly.csv").open()) - 1
    print(f"folder: {args.size} demo world + {args.live} live boosts, {rows:,} hourly rows "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    as_of = end.isoformat()
    wall, cpu, peak, _ = timed_cli(home, "ingest", "--source", f"local:{folder}")
    print(f"sparkpick ingest: {wall:.1f} s wall, {cpu:.1f} CPU s", flush=True)
    wall, cpu, peak, _ = timed_cli(home, "monitor", "--as-of", as_of, "--out", str(root / "live.csv"))
    print(f"sparkpick monitor (start-up included): {wall:.1f} s wall, {cpu:.1f} CPU s, peak {peak:.0f} MB",
          flush=True)

    from flows.invocation import resolve
    from flows.monitor import run_monitor
    from sparkpick.report import ReportMeta, write_report

    inv = resolve(home)
    run = run_monitor(inv.home, inv.settings, end)
    meta = ReportMeta(as_of=end.to_pydatetime(), ran_at=end.to_pydatetime(), model_version=None,
                      candidates_considered=0, polish_ad_threshold=65.0)
    start, cpu0 = time.perf_counter(), time.process_time()
    write_report(pd.DataFrame(), meta, root / "reports", end.date().isoformat(), thumbnails={}, monitor=run.view())
    print(f"report with {len(run.boosts)} live boosts (in process): {time.perf_counter() - start:.1f} s wall, "
          f"{time.process_time() - cpu0:.1f} CPU s", flush=True)

    wall, cpu, peak, _ = timed_cli(home, "nightly", "--no-prefect", "--as-of", as_of)
    print(f"sparkpick nightly, first night (trains the first champion): {wall:.1f} s wall, {cpu:.1f} CPU s",
          flush=True)
    wall, cpu, peak, out = timed_cli(home, "nightly", "--no-prefect", "--as-of", as_of)
    repeated = "nothing changed since this night last ran" in out.lower()
    print(f"sparkpick nightly again (nothing new{'' if repeated else ', NOT repeated'}): {wall:.1f} s wall, "
          f"{cpu:.1f} CPU s; peak of any child {peak:.0f} MB", flush=True)
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
