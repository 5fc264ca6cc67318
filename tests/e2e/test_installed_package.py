"""A non-editable install works on its own: `pip install .` into a fresh virtual environment, then the
`sparkpick` command in an empty folder reads its defaults from the package (no checkout beside it)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _checkout_copy(target: Path) -> Path:
    """The checkout's files as git sees them (new ones included), so the install builds nothing in the repo."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if not source.is_symlink() and not source.is_file():
            continue  # listed but deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def _fresh_venv(folder: Path) -> Path:
    """A new virtual environment that finds the dependencies where this test run finds them, but not this
    checkout (an editable install's finder is a .pth file in those folders, which a listed path does not run)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return folder


@pytest.mark.slow
def test_an_installed_sparkpick_runs_in_an_empty_folder(tmp_path: Path) -> None:
    source = _checkout_copy(tmp_path / "source")
    venv = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARKPICK_HOME")}
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", str(source)],
                               capture_output=True, text=True, timeout=600, env=env)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    shutil.rmtree(source)  # nothing of the checkout is left to read from

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import sparkpick.config as c; print(c.DEFAULT_CONFIG)"],
                           capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout.strip()
    packaged = Path(where)
    assert packaged.is_relative_to(venv) and packaged.is_file() and not packaged.is_symlink()
    assert packaged.read_bytes() == (REPO / "configs" / "default.yaml").read_bytes()

    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run([str(venv / "bin" / "sparkpick"), "--home", "home", "world", "--out", "world",
                           "--size", "tiny"], capture_output=True, text=True, timeout=600, env=env, cwd=empty)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Wrote the tiny demo world" in done.stdout
    assert (empty / "world" / "posts.csv").is_file()
