"""How fast is video cue extraction? Side by side, in one run, each method in its own fresh process.

    .venv/bin/python benchmarks/video_speed.py [--workdir /tmp/sparkpick-bench] [--seconds 30] [--repeat 2]

1. Generates (once, cached in --workdir) two 1080x1920, 30 fps H.264 clips like phone uploads with PyAV:
   - *easy*: a smooth scene filmed handheld, light grain, a cut every 7 s, a caption (--seconds long);
   - *hard*: fine texture (gravel, fabric), heavy grain, a pan with zoom and handheld jitter, four hard
     cuts at irregular times, 3 B-frames and a keyframe every 2 s (x264 adds one at each cut), 20 s;
   and the tiny demo world's clips if the demo renderer is installed.
2. Times, on the same files: a bare sequential OpenCV decode (`grab()` every frame, and `read()`), our
   `extract_video` (all cues), and PySceneDetect's ContentDetector with default settings (cut detection
   only; skipped with a message if `scenedetect` is not installed: `pip install scenedetect-headless`).
3. Prints wall and CPU seconds, the ratios, CPU seconds and videos per minute per core (60 / CPU seconds
   per video) and peak resident memory of each process (its `ru_maxrss`, next to that of a process that
   only imports). Imports (and the face cascade, as the worker pool's forkserver does) are loaded before
   the clock starts; extraction runs with `cv2.setNumThreads(1)`, as in the worker pool.
4. For the generated clips, whose cut times are known: how many cuts each detector found within 0.15 s.

5. The machine kept full: as many processes at once as cores, each doing the file(s), for the bare decode,
   extraction and PySceneDetect. This is how the worker pool and a Dask cluster run (one video per core)
   and what sizes a cluster; a lone process's wall time is not, because OpenCV decodes with a thread per
   core and so borrows cores that a full machine does not have.

Timings on a shared machine are noisy: each figure is the best of --repeat runs. CPU seconds are the
steadier figure there.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# -- the clip ---------------------------------------------------------------------------------------
def make_phone_clip(path: Path, seconds: float, width: int = 1080, height: int = 1920, fps: int = 30) -> list[float]:
    """A handheld-looking H.264 clip: a textured scene, camera jitter and pan, cuts every 7 s, a caption.

    Returns the cut times (seconds)."""
    import av
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    margin = 160
    scenes = []
    for k in range(4):
        r = np.random.default_rng(k)
        base = cv2.resize((r.random((24, 14, 3)) * 255).astype(np.uint8), (width + 2 * margin, height + 2 * margin),
                          interpolation=cv2.INTER_CUBIC)
        base = cv2.GaussianBlur(base, (0, 0), 12)
        for _ in range(120):
            color = tuple(int(c) for c in r.integers(0, 256, 3))
            x, y = int(r.integers(0, width + 2 * margin)), int(r.integers(0, height + 2 * margin))
            cv2.circle(base, (x, y), int(r.integers(10, 120)), color, -1, lineType=cv2.LINE_AA)
        scenes.append(base)
    n = int(seconds * fps)
    jitter = np.zeros(2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast", "g": str(fps)}
        for i in range(n):
            scene = scenes[(i // (7 * fps)) % len(scenes)]
            jitter = 0.7 * jitter + rng.normal(0, 3.0, 2)
            x, y = margin + 40 * np.sin(i / 90) + jitter[0], margin + jitter[1]
            frame = cv2.warpAffine(scene, np.float32([[1, 0, -x], [0, 1, -y]]), (width, height))
            cv2.putText(frame, "wait for it...", (80, int(height * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, 3.0,
                        (255, 255, 255), 8, lineType=cv2.LINE_AA)
            noisy = np.clip(frame + rng.normal(0, 2.0, frame.shape).astype(np.float32), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noisy, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return phone_clip_cuts(seconds)


def phone_clip_cuts(seconds: float) -> list[float]:
    """The cut times of `make_phone_clip`'s clip: every 7 s."""
    return [float(t) for t in range(7, math.ceil(seconds), 7)]


HARD_CUTS_S = (3.7, 8.2, 12.9, 16.4)


def make_textured_clip(path: Path, seconds: float = 20.0, width: int = 1080, height: int = 1920,
                       fps: int = 30) -> list[float]:
    """A hard phone clip: fine texture, heavy grain, pan, zoom and jitter, hard cuts at `HARD_CUTS_S`.

    Returns the cut times (seconds). x264 `faster` with 3 B-frames and a keyframe every 2 s, as
    transcoded uploads are; its scene-cut detection adds a keyframe at each cut.
    """
    import av
    import cv2
    import numpy as np

    rng = np.random.default_rng(11)
    cv2.setRNGSeed(11)
    margin = 200
    big = (width + 2 * margin, height + 2 * margin)
    scenes = []
    for k in range(len(HARD_CUTS_S) + 1):
        r = np.random.default_rng(100 + k)
        # Fine texture (per-pixel detail, lightly blurred) over a coarse colour field, plus shapes.
        fine = cv2.GaussianBlur((r.random((big[1], big[0])) * 255).astype(np.uint8), (0, 0), 1.2)
        coarse = cv2.resize((r.random((12, 7, 3)) * 255).astype(np.uint8), big, interpolation=cv2.INTER_CUBIC)
        base = cv2.addWeighted(coarse, 0.6, cv2.merge([fine] * 3), 0.4, 0)
        for _ in range(60):
            color = tuple(int(c) for c in r.integers(0, 256, 3))
            x, y = int(r.integers(0, big[0])), int(r.integers(0, big[1]))
            cv2.circle(base, (x, y), int(r.integers(20, 160)), color, int(r.integers(-1, 12)), lineType=cv2.LINE_AA)
        scenes.append(base)
    bounds = [round(c * fps) for c in HARD_CUTS_S if c < seconds]
    noise = np.empty((height, width, 3), np.int16)
    jitter = np.zeros(2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "faster", "g": str(2 * fps), "bf": "3"}
        for i in range(int(seconds * fps)):
            k = sum(i >= b for b in bounds)
            jitter = 0.8 * jitter + rng.normal(0, 2.5, 2)
            zoom = 1.0 + 0.04 * np.sin(i / 70)
            x, y = margin + 120 * np.sin(i / 55) + jitter[0], margin + 60 * np.cos(i / 80) + jitter[1]
            camera = np.float32([[zoom, 0, -x * zoom], [0, zoom, -y * zoom]])
            frame = cv2.warpAffine(scenes[k], camera, (width, height), flags=cv2.INTER_LINEAR)
            cv2.randn(noise, 0, 5.0)  # fresh sensor grain every frame
            frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return [b / fps for b in bounds]


# -- the methods (each runs in a fresh child process) ------------------------------------------------
def opencv_grab(paths: list[str]) -> int:
    import cv2

    frames = 0
    for path in paths:
        cap = cv2.VideoCapture(path)
        while cap.grab():
            frames += 1
        cap.release()
    return frames


def opencv_read(paths: list[str]) -> int:
    import cv2

    frames = 0
    for path in paths:
        cap = cv2.VideoCapture(path)
        while True:
            ok, _ = cap.read()
            if not ok:
                break
            frames += 1
        cap.release()
    return frames


def sparkpick_extract(paths: list[str]) -> list[list[float]]:
    """Extract every file; returns each file's cut times."""
    import cv2

    from features.video.extract import extract_video
    from sparkpick.config import load_settings

    # As in the worker pool (features/video/pool.py): one video per core, no OpenCV threads of its own.
    cv2.setNumThreads(1)
    cfg = load_settings().video
    cuts = []
    for path in paths:
        result = extract_video(path, cfg)
        if result.status != "ok":
            raise RuntimeError(f"{path}: {result.status}: {result.error}")
        cuts.append(result.cut_times_s)
    return cuts


def scenedetect_content(paths: list[str]) -> list[list[float]]:
    """PySceneDetect's content detector on every file; returns each file's cut times."""
    from scenedetect import ContentDetector, detect

    return [[start.get_seconds() for start, _end in detect(path, ContentDetector())[1:]] for path in paths]


def imports_only(paths: list[str]) -> int:
    import av  # noqa: F401
    import cv2  # noqa: F401

    from features.video.extract import extract_video  # noqa: F401

    return 0


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: the latter survives exec, so a spawned
    child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Imported before the clock starts: start-up is not per-video cost (workers import once).
_IMPORTS = {
    "opencv_grab": ["cv2"],
    "opencv_read": ["cv2"],
    "sparkpick_extract": ["cv2", "av", "features.video.preload", "sparkpick.config"],
    "scenedetect_content": ["cv2", "scenedetect"],
    "imports_only": [],
}


def _child(name: str, paths: list[str], conn) -> None:
    import importlib

    fn: Callable[[list[str]], int] = globals()[name]
    for module in _IMPORTS[name]:
        importlib.import_module(module)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    value = fn(paths)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    conn.send((wall, cpu, _peak_rss_mb(), value))
    conn.close()


def _full_child(name: str, paths: list[str], barrier, conn) -> None:
    import importlib

    fn: Callable[[list[str]], int] = globals()[name]
    for module in _IMPORTS[name]:
        importlib.import_module(module)
    barrier.wait()  # every process has imported: the clock starts for all at once
    start = time.time()
    fn(paths)
    conn.send((start, time.time()))
    conn.close()


def measure_full_machine(name: str, paths: list[str], processes: int) -> float:
    """Wall seconds for `processes` processes at once, each doing `paths`: the machine kept full, as the
    worker pool and a Dask cluster keep it (one video per core). A method's own threads cannot borrow idle
    cores here, so the ratio is the ratio of videos per hour the machine gets through."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes)
    readers, procs = [], []
    for _ in range(processes):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_full_child, args=(name, paths, barrier, writer))
        proc.start()
        writer.close()
        readers.append(reader)
        procs.append(proc)
    spans = [reader.recv() for reader in readers]
    for proc in procs:
        proc.join()
    return max(end for _, end in spans) - min(start for start, _ in spans)


def measure(name: str, paths: list[str], repeat: int) -> tuple[float, float, float, Any]:
    """(best wall s, CPU s of that run, peak RSS MB, the method's return value) over `repeat` fresh processes."""
    ctx = mp.get_context("spawn")
    best = None
    for _ in range(repeat):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(name, paths, writer))
        proc.start()
        writer.close()
        result = reader.recv()
        proc.join()
        if best is None or result[0] < best[0]:
            best = result
    return best


def _has_scenedetect() -> bool:
    try:
        import scenedetect  # noqa: F401
    except ImportError:
        return False
    return True


def _recall(found: list[list[float]], truth: list[list[float]], tolerance_s: float = 0.15) -> str:
    hits = sum(any(abs(f - t) <= tolerance_s for f in fs) for fs, ts in zip(found, truth, strict=True) for t in ts)
    false = sum(not any(abs(f - t) <= tolerance_s for t in ts) for fs, ts in zip(found, truth, strict=True)
                for f in fs)
    total = sum(len(ts) for ts in truth)
    return f"{hits} of {total} cuts found within {tolerance_s:g} s, {false} false"


def run(label: str, paths: list[str], repeat: int, cuts: list[list[float]] | None = None,
        full_machine: bool = True) -> None:
    print(f"\n== {label}: {len(paths)} file(s)", flush=True)
    base_rss = measure("imports_only", paths, 1)[2]
    rows = {}
    for name in ("opencv_grab", "opencv_read", "sparkpick_extract"):
        rows[name] = measure(name, paths, repeat)
    if _has_scenedetect():
        rows["scenedetect_content"] = measure("scenedetect_content", paths, repeat)
    print(f"{'method':<36}{'wall s':>9}{'CPU s':>9}{'peak MB':>10}")
    titles = {
        "opencv_grab": "bare OpenCV decode (grab)",
        "opencv_read": "bare OpenCV decode (read, BGR)",
        "sparkpick_extract": "sparkpick extract_video (all cues)",
        "scenedetect_content": "PySceneDetect ContentDetector",
    }
    for name, (wall, cpu, rss, _value) in rows.items():
        print(f"{titles[name]:<36}{wall:>9.2f}{cpu:>9.2f}{rss:>10.0f}")
    ours = rows["sparkpick_extract"]
    print(f"(a process that only imports cv2/av/features peaks at {base_rss:.0f} MB)")
    print(f"extract / bare OpenCV grab decode:  {ours[0] / rows['opencv_grab'][0]:.2f}x wall "
          f"(goal <= 0.6), {ours[1] / rows['opencv_grab'][1]:.2f}x CPU")
    print(f"extract / bare OpenCV read decode:  {ours[0] / rows['opencv_read'][0]:.2f}x wall, "
          f"{ours[1] / rows['opencv_read'][1]:.2f}x CPU")
    if "scenedetect_content" in rows:
        sd = rows["scenedetect_content"]
        print(f"extract / PySceneDetect content:    {ours[0] / sd[0]:.2f}x wall (goal <= 0.5), "
              f"{ours[1] / sd[1]:.2f}x CPU")
    else:
        print("PySceneDetect: not installed, line skipped (install for the benchmark only: "
              ".venv/bin/pip install scenedetect-headless)")
    if full_machine:
        cores = os.cpu_count() or 1
        names = [n for n in ("opencv_grab", "sparkpick_extract", "scenedetect_content") if n in rows]
        full = {n: min(measure_full_machine(n, paths, cores) for _ in range(repeat)) for n in names}
        print(f"machine kept full ({cores} processes at once, one per core, each doing the file(s)): wall s "
              + ", ".join(f"{titles[n]} {full[n]:.2f}" for n in names))
        mine = full["sparkpick_extract"]
        line = f"  extract / bare OpenCV grab decode: {mine / full['opencv_grab']:.2f}x (goal <= 0.6)"
        if "scenedetect_content" in full:
            line += f"; extract / PySceneDetect: {mine / full['scenedetect_content']:.2f}x (goal <= 0.5)"
        print(line)
    per_video_cpu = ours[1] / len(paths)
    print(f"extract CPU per video: {per_video_cpu:.3f} s")
    print(f"videos per minute per core (60 / CPU s per video): {60 / per_video_cpu:.1f}")
    print(f"peak memory of the extracting process: {ours[2]:.0f} MB ({ours[2] - base_rss:+.0f} MB over imports)")
    if cuts is not None:
        print(f"cuts, sparkpick:     {_recall(ours[3], cuts)}")
        if "scenedetect_content" in rows:
            print(f"cuts, PySceneDetect: {_recall(rows['scenedetect_content'][3], cuts)}")


def _clip(path: Path, make: Callable[[Path], object]) -> None:
    """Generate the clip at `path` once (written aside, then moved: a half-written clip is never reused)."""
    if path.is_file():
        return
    print(f"generating {path} (once) ...", flush=True)
    t0 = time.perf_counter()
    from sparkpick.files import atomic_path

    with atomic_path(path) as tmp:
        make(tmp)
    print(f"  encoded in {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sparkpick-bench")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo world's clips")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    easy = args.workdir / f"phone_1080x1920_30fps_{args.seconds:g}s.mp4"
    _clip(easy, lambda p: make_phone_clip(p, args.seconds))
    hard = args.workdir / "phone_textured_grainy_bframes_1080x1920_30fps_20s.mp4"
    _clip(hard, make_textured_clip)
    run(f"easy phone clip 1080x1920, 30 fps, {args.seconds:g} s, H.264", [str(easy)], args.repeat,
        [phone_clip_cuts(args.seconds)])
    run("hard phone clip 1080x1920, 30 fps, 20 s, H.264 with B-frames: grain, fine texture, pan and zoom",
        [str(hard)], args.repeat, [list(HARD_CUTS_S)])

    if not args.no_demo:
        try:
            from sparkpick.config import load_settings
            from sparkpick.sources.demo import build_world
        except ImportError as exc:
            print(f"\n(demo world not available: {exc})")
            return
        world = args.workdir / "tiny_world"
        settings = load_settings()
        if not (world / "videos").is_dir():
            print("\nbuilding the tiny demo world (once) ...", flush=True)
            build_world(world, settings, size="tiny", seed=settings.world.seed, workers=2)
        clips = sorted(str(p) for p in (world / "videos").glob("*.mp4"))
        run("demo world (tiny) clips", clips, max(1, args.repeat - 1), full_machine=False)


if __name__ == "__main__":
    main()
