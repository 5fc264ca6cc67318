"""The registered model loads and predicts in a fresh virtual environment holding only the requirements it
declares: no sparkpick, and decoy `models`, `features` and `flows` packages on the path that fail on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import mlflow
import numpy as np
import pytest

from models import mlflow_store, promotion, run_record
from models.training import fit_models
from sparkpick.config import Settings, with_overrides
from tests.models.conftest import FAST, FEATURES

pytestmark = pytest.mark.slow

DECOYS = ("models", "features", "flows")

# Runs in the fresh environment: load the champion, predict the rows, say what was imported.
LOAD_AND_PREDICT = """
import json, sys
import mlflow, pandas as pd
tracking_uri, rows_path, out_path = sys.argv[1:4]
mlflow.set_tracking_uri(tracking_uri)
mlflow.set_registry_uri(tracking_uri)
model = mlflow.pyfunc.load_model("models:/sparkpick-ranker@champion")
rows = json.loads(open(rows_path).read())
out = model.predict(pd.DataFrame(rows["data"], columns=rows["columns"]))
imported = sorted({name.split(".")[0] for name in sys.modules})
json.dump({"columns": list(out.columns), "data": out.to_numpy().tolist(), "imported": imported},
          open(out_path, "w"))
"""


def _decoys(folder: Path) -> Path:
    """Packages with the project's common top-level names that fail loudly when imported."""
    for name in DECOYS:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('decoy {name} imported')\n")
    return folder


def test_registered_model_loads_with_only_its_declared_requirements(boosts, settings: Settings,
                                                                     tmp_path: Path) -> None:
    fast = with_overrides(settings, FAST)
    fitted = fit_models(boosts(n_weeks=12, seed=21), FEATURES, fast.ranker, "test-v1")
    root = tmp_path / "mlruns"
    root.mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with mlflow_store.tracking(uri) as client:
        exp = mlflow_store.ensure_experiment(client, "sparkpick", root)
        run_record.log_training_run(client, exp, "sparkpick-ranker", fitted, {}, {}, fitted.train, 5,
                                    decision=promotion.PromotionDecision(promotion.CHAMPION, "first"))
        requirements = Path(mlflow.pyfunc.get_model_dependencies("models:/sparkpick-ranker@champion"))
    declared = [line.strip() for line in requirements.read_text().splitlines() if line.strip()]
    assert {line.split("==")[0] for line in declared} == {"lightgbm", "pandas", "numpy", "scikit-learn",
                                                          "mlflow"}, declared

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    # --no-compile: byte-compiling every installed module (mlflow, scikit-learn, pandas, ...) is most of
    # the install's time; the loader compiles what it imports.
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                    *declared], check=True, capture_output=True, timeout=1800)

    rows = fitted.scoring_model.matrix(fitted.valid)
    rows.iloc[0, 0] = np.nan  # a missing value is served too
    rows_path, out_path = tmp_path / "rows.json", tmp_path / "out.json"
    rows_path.write_text(json.dumps({"columns": list(rows.columns), "data": rows.to_numpy().tolist()}))
    script = tmp_path / "load.py"
    script.write_text(LOAD_AND_PREDICT)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MLFLOW", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [python, script, uri, rows_path, out_path], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**clean, "PYTHONPATH": str(_decoys(tmp_path / "decoys"))},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(out_path.read_text())
    assert "sparkpick" not in out["imported"] and not set(DECOYS) & set(out["imported"])
    # the fresh environment really lacks sparkpick
    probe = subprocess.run([python, "-c", "import sparkpick"], capture_output=True, text=True, env=clean,
                           cwd=tmp_path)
    assert probe.returncode != 0 and "No module named 'sparkpick'" in probe.stderr
    # and its predictions are sparkpick's own, to the last bit
    mine = fitted.scoring_model.predict(rows).reset_index(drop=True)
    assert out["columns"] == list(mine.columns)
    assert np.array_equal(np.asarray(out["data"], dtype=float), mine.to_numpy())
    assert sys.executable != str(python)
