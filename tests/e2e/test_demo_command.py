"""`sparkpick demo` as a new user runs it: every stage, then where the shortlist and the MLflow run are."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.worlds import TRAINABLE, with_rendered_videos
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_prints_the_shortlist_and_where_to_find_the_run(tmp_path: Path, e2e_world: Path) -> None:
    overlay = tmp_path / "e2e.yaml"
    overlay.write_text(yaml.safe_dump(TRAINABLE))
    home = with_rendered_videos(tmp_path / "home", e2e_world)  # the demo builds the world; renders none
    done = subprocess.run(
        [SPARKPICK, "--home", str(home), "--config", str(overlay), "demo", "--size", "e2e"],
        capture_output=True, text=True, timeout=600, cwd=REPO, env={"COLUMNS": "100", **_env()},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for stage in ("1/4 demo world", "2/4 video features", "3/4 training the ranker", "4/4 nightly scoring"):
        assert stage in out
    assert "model: mean of 5 lambdarank rankers" in out
    # the prior (v1, the brief's rules) serves until the trained ranker (v2) proves better off-policy
    flat = " ".join(out.split())
    assert "Top picks for " in out and ("your in-feed cost" in out or "Ranked by the brief's rules" in flat)
    # the data scientist is told which run and model to open, and how
    run = re.search(r"MLflow: experiment 'sparkpick', run ([0-9a-f]{32}), model sparkpick-ranker v2", out)
    assert run, out[-1500:]
    assert f"--home {home} ui" in out
    from models import mlflow_store, serving

    with mlflow_store.tracking(f"sqlite:///{home / 'mlruns' / 'mlflow.db'}") as client:
        assert client.get_run(run.group(1)).info.status == "FINISHED"
        assert serving.alias_version(client, "sparkpick-ranker", "champion") in ("1", "2")
    dated = [p for p in (home / "reports").rglob("shortlist.html") if p.parent.name != "latest"]
    assert len(dated) == 1 and str(dated[0]) in out.replace("\n", "")
    assert "Traceback" not in done.stderr and "mlflow" not in done.stderr.lower()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "COLUMNS"}
