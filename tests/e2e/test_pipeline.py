"""The whole pipeline on the tiny demo world, watched by an audit hook: pipeline code never opens truth.csv."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home

_opened: list[str] = []
_watching = False


def _audit(event: str, args: tuple[object, ...]) -> None:
    # Every file open in Python (builtins.open, io, pandas' readers, Path.read_text) raises "open".
    if _watching and event == "open" and args and isinstance(args[0], (str, Path)):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def world_copy(e2e_world: Path, tmp_path: Path) -> Path:
    """A copy of the trainable demo world (tests/e2e/conftest.py), videos included."""
    return Path(shutil.copytree(e2e_world, tmp_path / "world"))


@pytest.mark.slow
def test_pipeline_never_reads_truth(world_copy: Path, home: Home, settings: Settings) -> None:
    """ingest -> featurize -> train -> nightly score and report, while recording every file opened."""
    global _watching
    from flows.featurize import featurize_videos
    from flows.ingest import ingest_source
    from flows.nightly import run_nightly
    from flows.train import train_model

    # The night gathers from the same folder (the default source would build the default demo world).
    settings = with_overrides(settings, {"ingest": {"source": f"local:{world_copy}"}})
    truth = world_copy / "truth.csv"
    assert truth.is_file() and (world_copy / "truth_boosts.csv").is_file()
    posts = pd.read_csv(world_copy / "posts.csv", dtype=str)
    as_of = pd.Timestamp(settings.world.end)

    _opened.clear()
    _watching = True
    try:
        ingest_source(home, settings, f"local:{world_copy}")
        featurize_videos(home, settings)
        train_model(home, settings, until=as_of)
        result = run_nightly(home, settings, as_of=as_of)
    finally:
        _watching = False

    assert _opened, "the audit hook saw no file opens: the check would prove nothing"
    assert any(p.endswith("posts.csv") for p in _opened)
    assert not [p for p in _opened if Path(p).name in ("truth.csv", "truth_boosts.csv")]
    shortlist = pd.read_csv(result.paths.csv if hasattr(result, "paths") else home.reports / "latest" / "shortlist.csv",
                            dtype={"post_id": str, "advertiser_id": str})
    assert len(shortlist) > 0
    assert set(shortlist["post_id"]) <= set(posts["post_id"])
    assert (home.reports / "latest" / "shortlist.html").is_file()


def test_static_guard_only_the_world_writer_names_truth() -> None:
    """A cheap static guard beside the audit test: only the demo world's writer may name truth.csv or
    truth_boosts.csv."""
    root = Path(__file__).resolve().parents[2]
    writers = ("sparkpick/sources/demo/", "flows/commands/world.py")
    offenders = []
    for package in ("sparkpick", "features", "models", "flows"):
        for path in (root / package).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            if re.search(r"truth(_boosts)?\.csv|[\"']truth(_boosts)?[\"']", path.read_text(encoding="utf-8")) and not rel.startswith(writers):
                offenders.append(rel)
    assert not offenders, f"pipeline modules that mention truth: {offenders}"
