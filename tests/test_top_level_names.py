"""Other `models`, `features` and `flows` packages on the path do not break sparkpick: the command's entry
point claims the names, and the registered model does not need them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import sparkpick_launcher
from sparkpick.config import Settings
from sparkpick.home import Home
from sparkpick.sources.demo.tables import generate_tables
from sparkpick.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
# Another project's packages of the same names, with modules named as some of ours.
DECOYS = {"models": "registry", "features": "matrix", "flows": "cli"}
FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}


def _decoys(folder: Path) -> Path:
    """Ordinary packages with the project's common names, as another project would install them."""
    for name, module in DECOYS.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "__init__.py").write_text(f"DECOY = {name!r}\n")
        (folder / name / f"{module}.py").write_text(f"DECOY = '{name}.{module}'\n")
    return folder


def _entry_point() -> str:
    """The console script `pip install` generates, as a `python -c` program (from pyproject.toml)."""
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["sparkpick"]
    module, _, function = target.partition(":")
    return f"import sys; sys.argv[0] = 'sparkpick'; from {module} import {function}; sys.exit({function}())"


def _run(program: str, args: list[str], cwd: Path, decoys: Path) -> subprocess.CompletedProcess[str]:
    # The decoys come first (as PYTHONPATH entries and the current folder do); the project is importable
    # after them, as an installed package is.
    path = os.pathsep.join([str(decoys), str(ROOT)])
    return subprocess.run([sys.executable, "-c", program, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=900)


def test_the_decoys_bite_without_the_launcher(tmp_path: Path) -> None:
    decoys = _decoys(tmp_path / "decoys")
    plain = _run("from flows.cli import main; main()", ["--help"], tmp_path, decoys)
    assert plain.returncode != 0 and "cannot import name 'main' from 'flows.cli'" in plain.stderr, plain.stderr


def test_the_command_runs_with_decoys_in_the_current_folder_and_on_the_path(tmp_path: Path) -> None:
    decoys = _decoys(tmp_path / "decoys")
    _decoys(tmp_path)  # also in the folder the command runs from
    done = _run(_entry_point(), ["--help"], tmp_path, decoys)
    assert done.returncode == 0, done.stderr
    assert "train" in done.stdout and "score" in done.stdout


def test_claiming_forgets_a_foreign_package_already_imported(tmp_path: Path, monkeypatch) -> None:
    decoys = _decoys(tmp_path / "decoys")
    program = (f"import sys; sys.path.insert(0, {str(decoys)!r}); import models; assert models.DECOY; "
               "import sparkpick_launcher as l; root = l.claim_names(); import models.ranker, models; "
               "print(root, models.__file__)")
    done = _run(program, [], tmp_path, decoys)
    assert done.returncode == 0, done.stderr
    root, models_file = done.stdout.split()
    assert Path(root) == ROOT and Path(models_file).is_relative_to(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert sparkpick_launcher.project_root() == ROOT


@pytest.mark.slow
def test_train_score_and_load_the_model_beside_decoys(tmp_path: Path, home: Home, settings: Settings) -> None:
    world = generate_tables(settings.world, "small", 7)
    with Warehouse(home.warehouse) as wh:
        wh.upsert(world.contract())
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    decoys = _decoys(tmp_path / "decoys")
    base = ["--home", str(home.root), "--config", str(config)]
    for command in (["train"], ["score", "--as-of", str(settings.world.end), "--top", "2"]):
        done = _run(_entry_point(), [*base, *command], tmp_path, decoys)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "Top 2 per advertiser" in done.stdout
    # a data scientist's session with the decoys first and no sparkpick imported loads the champion
    uri = f"sqlite:///{home.mlruns / 'mlflow.db'}"
    program = (
        "import sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1]); "
        "m = mlflow.pyfunc.load_model('models:/sparkpick-ranker@champion'); "
        "names = m.metadata.get_input_schema().input_names(); import pandas as pd; "
        "out = m.predict(pd.DataFrame([[0.0] * len(names)], columns=names)); "
        "assert 'sparkpick' not in sys.modules and sys.modules['models'].DECOY; print(list(out.columns))"
    )
    loaded = _run(f"import models; {program}", [uri], tmp_path, decoys)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "predicted_uplift" in loaded.stdout
