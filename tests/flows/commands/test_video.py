"""`sparkpick video-features` end to end (a real subprocess) and its light imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.entry_point import SPARKPICK
from tests.features.video.clips import Shot, write_clip

ROOT = Path(__file__).resolve().parents[3]


def test_video_features_json_lines(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, [Shot(1.0, 1), Shot(1.0, 2, text=True)])
    missing = tmp_path / "missing.mp4"
    run = subprocess.run(
        [str(SPARKPICK), "--home", str(tmp_path / "home"), "video-features", "--json", str(clip), str(missing),
         "--thumbnails", str(tmp_path / "thumbs")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert run.returncode == 1, run.stderr  # one file failed
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(clip), str(missing)]
    ok, failed = lines
    assert ok["status"] == "ok" and ok["error"] is None and 0 <= ok["polish_score"] <= 100
    assert ok["cues"]["hard_cuts"] == 1 and ok["cues"]["width"] == 180
    assert Path(ok["thumbnail_path"]).is_file()
    assert failed["status"] == "failed" and "does not exist" in failed["error"]
    assert failed["polish_score"] is None


def test_video_features_text_output(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, [Shot(2.0, 3, shake_px=2.0)])
    run = subprocess.run([str(SPARKPICK), "video-features", str(clip)], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "polish_score:" in run.stdout and "shake" in run.stdout and "hard_cuts" in run.stdout


def test_video_features_path_imports_no_heavy_libraries():
    code = (
        "import sys; import flows.cli; import features.video.pool, features.video.extract; "
        "heavy = [m for m in ('pandas', 'mlflow', 'prefect', 'lightgbm', 'duckdb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
