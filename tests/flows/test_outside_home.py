"""Nothing a command does lands outside its home, and nothing it starts outlives it: no telemetry file under
the user's home, no temporary folder left in the system's temporary folder (also when the command is
killed with SIGKILL), no child process left running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.entry_point import SPARKPICK
from tests.features.video.clips import Shot, write_clip

REPO = Path(__file__).resolve().parents[2]
# What the tests' own environment sets for every test (tests/conftest.py): the command must not need it.
_TELEMETRY = ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED")


def _outside(tmp_path: Path) -> tuple[dict[str, str], list[Path]]:
    """An environment whose user home, temporary folder and working folder are empty folders of their own."""
    folders = [tmp_path / name for name in ("user-home", "system-tmp", "workdir")]
    for folder in folders:
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _TELEMETRY and not k.startswith("PREFECT_")}
    env.update({"HOME": str(folders[0]), "TMPDIR": str(folders[1]), "PYTHONPATH": str(REPO)})
    return env, folders


def test_a_command_sends_no_telemetry_and_writes_nothing_outside_the_home(tmp_path: Path) -> None:
    env, folders = _outside(tmp_path)
    home = tmp_path / "home"
    # `train` on an empty home opens the MLflow store (MLflow's telemetry wrote ~/.config/mlflow/ here).
    done = subprocess.run([SPARKPICK, "--home", str(home), "train"], capture_output=True, text=True,
                          timeout=300, env=env, cwd=folders[2], check=False)
    assert done.returncode == 2 and "No warehouse" in done.stderr, done.stderr
    assert [sorted(p.relative_to(f) for p in f.rglob("*")) for f in folders] == [[], [], []]
    assert list((home / "cache" / "scratch").iterdir()) == []  # its temporary folder went with it


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def short_home() -> Iterator[Home]:
    """A home at a short path: the forkserver's socket must fit in 107 bytes inside its scratch."""
    root = Path(tempfile.mkdtemp(prefix="sp-", dir="/tmp"))
    try:
        yield Home.at(root).ensure()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_killed_featurize_leaves_no_process_and_no_temporary_folder(tmp_path: Path, short_home: Home) -> None:
    env, folders = _outside(tmp_path)
    home = short_home
    clips = []
    for i in range(6):  # long enough that the run is still decoding when it is killed
        clips.append(tmp_path / f"clip{i}.mp4")
        write_clip(clips[-1], [Shot(10.0, i + 1), Shot(10.0, i + 2, shake_px=2.0)], size=(360, 640))
    creators = pd.DataFrame({"creator_id": ["c1"], "handle": ["@c1"], "follower_count": [100],
                             "is_brand_account": [False]})
    posts = pd.DataFrame({"post_id": [f"p{i}" for i in range(6)], "advertiser_id": "a1", "creator_id": "c1",
                          "posted_at": pd.Timestamp("2026-10-01"), "caption": "hi",
                          "video_path": [str(c) for c in clips], "spark_auth_status": "none",
                          "spark_auth_expires_at": pd.NaT})
    with Warehouse(home.warehouse) as wh:
        wh.upsert({"creators": creators, "posts": posts})

    run = subprocess.Popen([SPARKPICK, "--home", str(home.root), "featurize", "--workers", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=folders[2],
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # The forkserver and a video worker at least: decoding now.
        while time.monotonic() < deadline and len(_descendants(run.pid)) < 2:
            time.sleep(0.1)
        started = _descendants(run.pid)
        assert len(started) >= 2, "featurize started no worker process"
        # The forkserver's socket is in the home's scratch (it was in a pymp-* folder in the system's one).
        assert list(home.scratch.rglob("listener-*"))
        run.send_signal(signal.SIGKILL)
        run.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in started):
            time.sleep(0.2)
        assert not [pid for pid in started if _alive(pid)], "a child of the killed featurize is still running"
    finally:
        if run.poll() is None:
            run.kill()
    assert list(folders[1].iterdir()) == []  # nothing in the system's temporary folder
    # The next command sweeps what the killed one left in the home's scratch.
    subprocess.run([SPARKPICK, "--home", str(home.root), "featurize"], capture_output=True, timeout=300,
                   env=env, cwd=folders[2], check=True)
    assert list(home.scratch.iterdir()) == []


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_prefect_night_leaves_no_server_running(tmp_path: Path, short_home: Home, sig: int) -> None:
    env, folders = _outside(tmp_path)
    # A fresh home: the night starts its temporary Prefect server, then builds the demo world (slow).
    night = subprocess.Popen([SPARKPICK, "--home", str(short_home.root), "nightly"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env, cwd=folders[2], start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        server: list[int] = []
        while time.monotonic() < deadline and not server:
            server = [pid for pid in _descendants(night.pid) if "uvicorn" in _cmdline(pid)]
            time.sleep(0.2)
        assert server, "the night started no Prefect server"
        time.sleep(3.0)  # the flow is running now
        started = _descendants(night.pid)
        night.send_signal(sig)
        night.wait(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(pid) for pid in started):
            time.sleep(0.5)
        left = [f"{pid} {_cmdline(pid)}" for pid in started if _alive(pid)]
        assert not left, f"still running after the night was killed: {left}"
    finally:
        if night.poll() is None:
            night.kill()
        for pid in _descendants(night.pid) + [p for p in locals().get("started", []) if _alive(p)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # never leave a server behind, even when the test fails
