"""`sparkpick train`, `score`, `evaluate` and `ui`: the ranker's commands on a real warehouse and MLflow
store. A bad choice or an empty home is an input error before anything is trained; a small world trains,
scores and writes its shortlist; the MLflow UI starts on the home's store and stops whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from flows.cli import app
from flows.commands.model import metrics_table
from flows.prefect_server import free_port
from sparkpick.errors import InputError
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[3]
FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}


def sparkpick(home: Path, *args: str, config: Path | None = None) -> Result:
    options = ["--config", str(config)] if config else []
    return CliRunner().invoke(app, ["--home", str(home), *options, *args], env={"COLUMNS": "200"})


def test_the_metrics_table_names_each_metric_at_k_with_the_model_first() -> None:
    metrics = pd.DataFrame({"captured_at_k": [0.61, 0.29], "ndcg_at_k": [0.7, 0.4], "other": [1.0, 2.0]},
                           index=["model", "engagement rate"])
    console = Console(record=True, width=120)
    console.print(metrics_table(metrics, 5, "Validation decisions"))
    text = console.export_text()
    assert "captured@5" in text and "NDCG@5" in text and "other" in text
    assert text.index("model") < text.index("engagement rate")
    assert "0.610" in text and "0.290" in text


def test_a_bad_promotion_choice_is_refused_before_anything_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = sparkpick(home, "train", "--promote", "sometimes")
    assert isinstance(result.exception, InputError), result.output
    assert "--promote must be one of auto, never, force, not 'sometimes'" in str(result.exception)
    assert not list((home / "mlruns").glob("*")), "no model store was opened"


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_an_empty_home_says_to_ingest_first(tmp_path: Path, command: str) -> None:
    result = sparkpick(tmp_path / "home", command)
    assert isinstance(result.exception, InputError), result.output
    assert "run `sparkpick ingest` first" in str(result.exception)


@pytest.fixture(scope="module")
def fed_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A home fed the small demo world's tables (no videos: their cues stay missing), and a fast config."""
    from flows.ingest import ingest_tables
    from sparkpick.config import load_settings
    from sparkpick.home import Home
    from sparkpick.sources.demo.tables import generate_tables

    root = tmp_path_factory.mktemp("model-cli")
    config = root / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST), encoding="utf-8")
    settings = load_settings(config)
    home = Home.at(root / "home").ensure()
    contract = generate_tables(settings.world, "small", settings.world.seed).contract()
    contract["posts"] = contract["posts"].assign(video_path=None)
    ingest_tables(home, settings, contract, "demo-small")
    return home.root, config


@pytest.mark.slow
def test_train_then_score_writes_the_shortlist(fed_home: tuple[Path, Path], tmp_path: Path) -> None:
    from sparkpick.config import load_settings

    home, config = fed_home
    trained = sparkpick(home, "train", "--promote", "force", config=config)
    assert trained.exit_code == 0, trained.output
    assert "registered sparkpick-ranker v" in trained.output and "alias 'champion'" in trained.output
    assert "captured@5" in trained.output
    out = tmp_path / "picks.csv"
    end = load_settings(config).world.end
    scored = sparkpick(home, "score", "--as-of", end, "--top", "2", "--out", str(out), config=config)
    assert scored.exit_code == 0, scored.output
    picks = pd.read_csv(out, dtype={"post_id": str})
    assert len(picks) > 0 and picks.groupby("advertiser_id").size().max() <= 2
    assert f"wrote {len(picks)} rows to {out}" in scored.output.replace("\n", "")
    evaluated = sparkpick(home, "evaluate", config=config)
    assert evaluated.exit_code == 0, evaluated.output
    assert "logged boosts:" in evaluated.output


@pytest.mark.slow
def test_the_ui_serves_the_homes_store_and_stops_whole(tmp_path: Path) -> None:
    port = free_port(0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ui = subprocess.Popen([SPARKPICK, "--home", str(tmp_path / "home"), "ui", "--port", str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
                          start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the MLflow UI never answered")
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(60) == 0
        assert ui.stdout is not None and f"MLflow UI on http://127.0.0.1:{port}" in ui.stdout.read()
        with pytest.raises(httpx.HTTPError):  # the server and its workers went with the command
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
            ui.wait(30)
