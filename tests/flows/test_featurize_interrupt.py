"""A real `sparkpick featurize` process stopped half-way (Ctrl-C to its process group, or SIGTERM to it)
stops quietly, keeps every video that finished, and a rerun computes only the rest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.featurize import thumbnail_dir
from sparkpick.warehouse import VIDEO_FEATURES, Warehouse
from tests.entry_point import SPARKPICK
from tests.features.video.clips import Shot, write_clip
from tests.flows.test_featurize import _load_posts

N_VIDEOS = 40


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory) -> list[Path]:
    """Distinct files (distinct hashes) from one rendered clip: bytes appended after the container's end
    are ignored by the decoder but change the file's hash."""
    folder = tmp_path_factory.mktemp("interrupt_clips")
    base = folder / "base.mp4"
    write_clip(base, [Shot(3.0, 1, shake_px=2.0), Shot(3.0, 2, noise=8.0)])
    data = base.read_bytes()
    paths = []
    for i in range(N_VIDEOS):
        path = folder / f"v{i:02d}.mp4"
        path.write_bytes(data + b"\0" * (i + 1))
        paths.append(path)
    return paths


def _cli(home: Path, *args: str) -> list[str]:
    return [SPARKPICK, "--home", str(home), *args]


def _stored(home) -> int:
    with Warehouse(home.warehouse) as wh:
        return len(wh.read(VIDEO_FEATURES)) if wh.has_table(VIDEO_FEATURES) else 0


def _terminal_signals() -> None:
    """In the child before it runs sparkpick: Ctrl-C's default disposition, which Python turns into
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code", "where"), [
    ("ctrl-c", 130, ["--workers", "2"]),
    ("sigterm", 143, ["--workers", "2"]),
    ("ctrl-c", 130, ["--dask-workers", "2"]),  # a local Dask cluster: its processes must stay quiet too
])
def test_a_killed_featurize_keeps_what_finished_and_a_rerun_does_the_rest(home, clip_files, how, code, where):
    _load_posts(home, {f"p{i}": str(p) for i, p in enumerate(clip_files)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path]),
           "DASK_TEMPORARY_DIRECTORY": str(home.root / "dask")}
    # As from a terminal: a test run started in the background (`make test &`) hands its children SIGINT
    # ignored, and Python then keeps ignoring Ctrl-C, as it should for a background job.
    proc = subprocess.Popen(_cli(home.root, "featurize", *where), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True,
                            preexec_fn=_terminal_signals)
    thumbs = thumbnail_dir(home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # stop it once a few videos are done
        if thumbs.is_dir() and len(list(thumbs.glob("*.jpg"))) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "featurize finished before it could be stopped"
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole group gets it
    else:
        os.kill(proc.pid, signal.SIGTERM)  # what a scheduler does: only the main process gets it
    _out, err = proc.communicate(timeout=120)
    stderr = err.decode()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    said = re.search(r"Stopped: (\d+) of (\d+) videos finished and are saved", stderr)
    assert said, stderr
    finished, total = int(said.group(1)), int(said.group(2))
    assert total == N_VIDEOS and 0 < finished < N_VIDEOS
    assert _stored(home) == finished  # every finished video is stored, none half-way

    rerun = subprocess.run(_cli(home.root, "featurize", "--workers", "2"), capture_output=True, env=env,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()
    summary = rerun.stdout.decode()
    assert f"{N_VIDEOS - finished} done, {finished} cached" in summary, summary
    assert _stored(home) == N_VIDEOS
