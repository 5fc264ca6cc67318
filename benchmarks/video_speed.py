"""How fast is video cue extraction? Side by side, in one run, each method in its own fresh process.

    .venv/bin/python benchmarks/video_speed.py [--workdir /tmp/sparkpick-bench] [--seconds 30] [--repeat 2]

1. Generates (once, cached in --workdir) a 1080x1920, 30 fps, H.264 clip like a phone upload with PyAV
   (a textured scene filmed handheld, a few hard cuts, a caption), and the tiny demo world's clips if the
   demo renderer is installed.
2. Times, on the same files: a bare sequential OpenCV decode (`grab()` every frame, and `read()`), our
   `extract_video` (all cues), and PySceneDetect's ContentDetector with default settings (cut detection
   only; skipped with a message if `scenedetect` is not installed: `pip install --no-deps scenedetect`).
3. Prints wall and CPU seconds, the ratios, CPU seconds and videos per minute per core (60 / CPU seconds
   per video) and peak resident memory of each process (its `ru_maxrss`, next to that of a process that
   only imports). Imports (and the face cascade, as the worker pool's forkserver does) are loaded before
   the clock starts; extraction runs with `cv2.setNumThreads(1)`, as in the worker pool.

Timings on a shared machine are noisy: each figure is the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# -- the clip ---------------------------------------------------------------------------------------
def make_phone_clip(path: Path, seconds: float, width: int = 1080, height: int = 1920, fps: int = 30) -> None:
    """A handheld-looking H.264 clip: a textured scene, camera jitter and pan, cuts every ~7 s, a caption."""
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


def sparkpick_extract(paths: list[str]) -> int:
    import cv2

    from features.video.extract import extract_video
    from sparkpick.config import load_settings

    # As in the worker pool (features/video/pool.py): one video per core, no OpenCV threads of its own.
    cv2.setNumThreads(1)
    cfg = load_settings().video
    ok = 0
    for path in paths:
        ok += extract_video(path, cfg).status == "ok"
    return ok


def scenedetect_content(paths: list[str]) -> int:
    from scenedetect import ContentDetector, detect

    return sum(len(detect(path, ContentDetector())) for path in paths)


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


def measure(name: str, paths: list[str], repeat: int) -> tuple[float, float, float, int]:
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


def run(label: str, paths: list[str], repeat: int) -> None:
    print(f"\n== {label}: {len(paths)} file(s)")
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
          f"(goal <= 1.25), {ours[1] / rows['opencv_grab'][1]:.2f}x CPU")
    print(f"extract / bare OpenCV read decode:  {ours[0] / rows['opencv_read'][0]:.2f}x wall, "
          f"{ours[1] / rows['opencv_read'][1]:.2f}x CPU")
    if "scenedetect_content" in rows:
        sd = rows["scenedetect_content"]
        print(f"extract / PySceneDetect content:    {ours[0] / sd[0]:.2f}x wall (goal <= 0.5), "
              f"{ours[1] / sd[1]:.2f}x CPU")
    else:
        print("PySceneDetect: not installed, line skipped (install for the benchmark only: "
              ".venv/bin/pip install --no-deps scenedetect)")
    per_video_cpu = ours[1] / len(paths)
    print(f"extract CPU per video: {per_video_cpu:.3f} s")
    print(f"videos per minute per core (60 / CPU s per video): {60 / per_video_cpu:.1f}")
    print(f"peak memory of the extracting process: {ours[2]:.0f} MB ({ours[2] - base_rss:+.0f} MB over imports)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sparkpick-bench")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo world's clips")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    clip = args.workdir / f"phone_1080x1920_30fps_{args.seconds:g}s.mp4"
    if not clip.is_file():
        print(f"generating {clip} (once) ...", flush=True)
        t0 = time.perf_counter()
        make_phone_clip(clip, args.seconds)
        print(f"  encoded in {time.perf_counter() - t0:.0f} s, {clip.stat().st_size / 1e6:.1f} MB")
    run(f"phone clip 1080x1920, 30 fps, {args.seconds:g} s, H.264", [str(clip)], args.repeat)

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
        run("demo world (tiny) clips", clips, max(1, args.repeat - 1))


if __name__ == "__main__":
    main()
