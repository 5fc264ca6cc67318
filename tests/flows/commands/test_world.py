"""`sparkpick world`: the command writes (or refreshes) a demo world and reports bad input with status 2."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sparkpick.sources.local import read_folder
from tests.entry_point import SPARKPICK


def _sparkpick(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SPARKPICK, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_world_command_refreshes_a_folder_and_reports(tiny_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "world"
    shutil.copytree(tiny_world, out)
    result = _sparkpick("--home", str(tmp_path / "home"), "world", "--out", str(out), "--size", "tiny",
                        cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr
    assert "0 rendered" in result.stdout and "posts" in result.stdout
    assert read_folder(out).problems == []


def test_world_command_rejects_an_unknown_size(tmp_path: Path) -> None:
    result = _sparkpick("--home", str(tmp_path), "world", "--out", str(tmp_path / "w"), "--size", "galactic",
                        cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 2
    assert "galactic" in result.stderr and "tiny" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()
