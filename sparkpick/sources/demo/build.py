"""Write a demo world to a folder in the local-folder contract, rendering its videos in worker processes.

Safe to re-run: tables are rewritten atomically and byte-identically for the same seed; a video whose
file already matches what this world would render (checked against `videos/manifest.json`: the clip's
spec and the file's SHA-256) is kept, every other one is rendered again; videos of a previous world in
the same folder that this one does not have are removed.
"""

from __future__ import annotations

import hashlib
import json
import selectors
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from sparkpick.config import Settings, WorldConfig
from sparkpick.errors import SparkpickError
from sparkpick.files import file_sha256, write_atomic
from sparkpick.sources.demo.clip import ClipSpec, spec_to_json
from sparkpick.sources.demo.render import write_clip
from sparkpick.sources.demo.tables import VIDEO_DIR, WorldTables, generate_tables

MANIFEST = "manifest.json"
# Clips queued per worker: enough that a worker never waits for the parent, few enough to balance load.
IN_FLIGHT = 2


@dataclass(frozen=True)
class WorldSummary:
    """What `build_world` wrote."""

    path: Path
    size: str
    seed: int
    advertisers: int
    creators: int
    posts: int
    videos: int
    rendered: int
    snapshots: int
    boosts: int
    baselines: int

    def lines(self) -> list[str]:
        return [
            f"{self.advertisers} advertisers, {self.creators} creators, {self.posts} posts",
            f"{self.videos} videos ({self.rendered} rendered, {self.videos - self.rendered} already up to date)",
            f"{self.snapshots} metric snapshots, {self.boosts} past Spark Ads, {self.baselines} baseline periods",
        ]


def _iso(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object).where(values.notna(), None)


def to_csv_text(frame: pd.DataFrame) -> str:
    """A table as contract CSV: ISO 8601 UTC times, true/false booleans, empty cells for missing values."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = _iso(out[col])
        elif pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n")


def _write_atomic(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    write_atomic(path, data)


def clip_specs(tables: WorldTables, config: WorldConfig, out_dir: Path) -> list[ClipSpec]:
    """One render spec per post that has a video."""
    adv = {a.advertiser_id: a for a in tables.advertisers}
    specs = []
    for row in tables.hidden[tables.hidden["has_video"]].itertuples(index=False):
        a = adv[row.advertiser_id]
        initials = "".join(w[0] for w in a.brand.name.replace("&", "").split())[:2].upper()
        skin = None if row.kind == "own" else (int(row.skin_b), int(row.skin_g), int(row.skin_r))
        specs.append(ClipSpec(
            post_id=row.post_id, path=str(out_dir / VIDEO_DIR / f"{row.post_id}.mp4"), seed=int(row.render_seed),
            width=config.video.width, height=config.video.height, fps=config.video.fps,
            n_frames=int(row.n_frames), polish=float(row.polish), produced=bool(row.produced),
            hook=float(row.hook), authenticity=float(row.authenticity), topic_fit=float(row.topic_fit),
            primary=a.brand.primary, accent=a.brand.accent, initials=initials, skin=skin,
            preset=config.video.preset, crf=config.video.crf,
            keyframe_interval_s=config.video.keyframe_interval_s,
        ))
    return specs


def _spec_key(spec: ClipSpec) -> str:
    data = asdict(spec)
    data.pop("path")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _render(specs: list[ClipSpec], workers: int, tick: Callable[[int], None]) -> None:
    """Render clips in `workers` child processes fed one spec at a time (so the load balances itself).

    Workers are plain `python -m sparkpick.sources.demo.render` processes: nothing of the caller's process
    (threads, the main script) is copied or re-imported. Failures are collected and raised together.
    """
    if not specs:
        return
    if workers <= 1 or len(specs) == 1:
        for spec in specs:
            write_clip(spec)
            tick(1)
        return
    queue = list(reversed(specs))
    errors: list[str] = []
    procs = [
        subprocess.Popen([sys.executable, "-m", "sparkpick.sources.demo.render"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
        for _ in range(min(workers, len(specs)))
    ]
    selector = selectors.DefaultSelector()
    in_flight: dict[int, int] = {}
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdin is not None  # both are pipes (PIPE above)
            selector.register(proc.stdout, selectors.EVENT_READ, proc)
            in_flight[proc.pid] = 0
            for _ in range(IN_FLIGHT):
                if queue:
                    proc.stdin.write((spec_to_json(queue.pop()) + "\n").encode())
                    in_flight[proc.pid] += 1
        while any(in_flight.values()):
            for key, _ in selector.select():
                proc = key.data
                # Unbuffered pipe: readline takes exactly one line, so a second finished line waiting in
                # the pipe still wakes the selector (a buffered reader could swallow it and hang here).
                line = proc.stdout.readline().decode()
                if not line:  # the worker died: whatever it held is lost
                    selector.unregister(proc.stdout)
                    errors.append(f"a render worker exited with status {proc.wait()}")
                    in_flight[proc.pid] = 0
                    continue
                status, post_id, *why = line.rstrip("\n").split(" ", 2)
                if status != "ok":
                    errors.append(f"post {post_id}: {' '.join(why)}")
                in_flight[proc.pid] -= 1
                tick(1)
                if queue:
                    proc.stdin.write((spec_to_json(queue.pop()) + "\n").encode())
                    in_flight[proc.pid] += 1
    finally:
        for proc in procs:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        selector.close()
    if errors or queue:
        shown = "; ".join(errors[:5]) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        raise SparkpickError(f"Rendering demo videos failed: {shown or 'workers stopped early'}")


def build_world(
    out_dir: Path,
    settings: Settings,
    size: str = "default",
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 2,
) -> WorldSummary:
    """Generate the demo world of `size` and write it, videos included, to `out_dir`.

    `progress(done, total)` is called as videos are rendered (total = videos in the world). The same
    seed always gives the same folder, byte for byte.
    """
    config = settings.world
    seed = config.seed if seed is None else seed
    tables = generate_tables(config, size, seed)
    out_dir = Path(out_dir)
    video_dir = out_dir / VIDEO_DIR
    video_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in {**tables.tables(), **tables.truths()}.items():
        _write_atomic(out_dir / f"{name}.csv", to_csv_text(frame).encode("utf-8"))

    specs = clip_specs(tables, config, out_dir)
    manifest_path = video_dir / MANIFEST
    try:
        old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        old = {}
    keys = {s.post_id: _spec_key(s) for s in specs}
    todo = []
    for spec in specs:
        entry = old.get(spec.post_id)
        path = Path(spec.path)
        fresh = (isinstance(entry, dict) and entry.get("spec") == keys[spec.post_id] and path.is_file()
                 and entry.get("sha256") == file_sha256(path))
        if not fresh:
            todo.append(spec)
    for post_id in set(old) - set(keys):  # videos of a previous world in this folder
        (video_dir / f"{post_id}.mp4").unlink(missing_ok=True)

    total = len(specs)
    done = total - len(todo)
    if progress:
        progress(done, total)

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress(done, total)

    manifest_path.unlink(missing_ok=True)  # a crash mid-render must not leave a stale manifest behind
    _render(todo, workers, tick)
    manifest = {
        s.post_id: {"spec": keys[s.post_id], "sha256": file_sha256(Path(s.path))} for s in specs
    }
    _write_atomic(manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return WorldSummary(
        path=out_dir, size=size, seed=seed, advertisers=len(tables.advertisers), creators=len(tables.creators),
        posts=len(tables.posts), videos=total, rendered=len(todo), snapshots=len(tables.metrics),
        boosts=len(tables.spark_results), baselines=len(tables.baselines),
    )
