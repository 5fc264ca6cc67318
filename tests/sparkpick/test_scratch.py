"""A run's scratch folder in the home: removed after the run, swept after a kill, never another run's."""

from __future__ import annotations

from pathlib import Path

from sparkpick.scratch import run_scratch


def test_a_runs_scratch_goes_when_it_ends_and_a_live_runs_scratch_is_never_swept(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    with run_scratch(root) as first:
        (first / "copy.mp4").write_bytes(b"bytes")
        with run_scratch(root) as second:  # a second run at the same time sweeps stale folders only
            assert first != second and (first / "copy.mp4").is_file()
        assert not second.exists() and (first / "copy.mp4").is_file()
    assert list(root.iterdir()) == []


def test_a_killed_runs_scratch_is_swept_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    stale = root / "run-killed"
    (stale / "dask" / "worker-1").mkdir(parents=True)
    (stale / "dask" / "worker-1" / "spill.bin").write_bytes(b"x")
    (root / "notes.txt").write_text("not sparkpick's")
    (root / "runner").mkdir()
    with run_scratch(root):
        assert not stale.exists()
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt", "runner"]
