"""Which version serves and loading it, on a real SQLite store per test: recorded, registered, served, damaged."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models import champion_comparison, mlflow_store, promotion, run_record, serving, track_record_tags
from models.training import fit_models
from sparkpick.config import Settings
from sparkpick.errors import InputError
from tests.models.conftest import FEATURES

WEAK = ["views", "noise"]


def log_run(store: tuple[str, Path], fitted, name: str = "sparkpick-ranker") -> run_record.LoggedRun:
    uri, root = store
    with mlflow_store.tracking(uri) as client:
        exp = mlflow_store.ensure_experiment(client, "sparkpick", root)
        window = {"first_decision": "a", "last_decision": "b"}
        return run_record.log_training_run(client, exp, name, fitted, {"ranker": {"seed": 42}}, window,
                                           fitted.train, 5, decision=promotion.PromotionDecision(None, "test"))


def test_run_is_recorded_registered_and_served(
    boosts, fast: Settings, store: tuple[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    frame = boosts(seed=11)
    # counts arrive as integers, as they come from the warehouse (nullable where a value may be missing)
    frame = frame.assign(creator_familiarity=frame["creator_familiarity"].astype("int64"),
                         views=frame["views"].round().astype("Int64"))
    fitted = fit_models(frame, FEATURES, fast.ranker, "test-v1")
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logged = log_run(store, fitted)
    # MLflow keeps quiet on a fresh store: no store creation or migration lines, no pickling advice, no
    # registration notices, no warnings raised in its code (a user sees only sparkpick's own output)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
    assert [str(w.message) for w in caught if f"{os.sep}mlflow{os.sep}" in w.filename] == []
    uri, root = store
    with mlflow_store.tracking(uri) as client:
        run = client.get_run(logged.run_id)
        assert run.data.params["features.version"] == "test-v1"
        assert run.data.params["ranker.seed"] == "42"
        assert len(run.data.params["data.fingerprint"]) == 16
        assert "captured_at_k" in run.data.metrics and "engagement_rate.captured_at_k" in run.data.metrics
        assert "ranker_no_video.ndcg_at_k" in run.data.metrics
        assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"boosts_training", "boosts_validation"}
        # integer columns are logged as doubles (which hold a missing value): in the datasets' schemas and
        # in the model's signature, so that serving a row with a missing count passes schema enforcement
        for logged_input in run.inputs.dataset_inputs:
            types = {c["name"]: c["type"] for c in json.loads(logged_input.dataset.schema)["mlflow_colspec"]}
            assert types["relevance"] == types["views"] == "double", types
        signature = mlflow.models.get_model_info(logged.model_uri).signature
        assert {t.name for t in signature.inputs.input_types()} == {"double"}
        names = {a.path for a in client.list_artifacts(logged.run_id, "plots")}
        assert names == {"plots/gain_curve.png", "plots/feature_importance.png", "plots/shap_summary.png"}
        mv = client.get_model_version("sparkpick-ranker", logged.model_version)
        assert mv.tags["feature_version"] == "test-v1"
        assert json.loads(mv.tags["features"]) == FEATURES
    # the artifacts really are files under the store's folder
    pngs = list(root.rglob("gain_curve.png"))
    assert pngs and pngs[0].stat().st_size > 1000
    # the model travels: its code and its files (boosters, calibration, feature list) are in the model folder
    code = next(root.rglob("sparkpick_ranker_pyfunc.py"))
    files = code.parent / "artifacts" / "ranker"
    assert sorted(p.name for p in files.iterdir()) == ["booster_0.txt", "booster_1.txt", "calibration.json",
                                                      "features.json"]
    assert json.loads((files / "features.json").read_text())["features"] == FEATURES
    assert list(root.rglob("MLmodel"))
    requirements = next(root.rglob("requirements.txt")).read_text()
    assert "lightgbm==" in requirements and "scikit-learn==" in requirements


def test_gate_and_pyfunc_agree_with_native(boosts, fast: Settings, store: tuple[str, Path]) -> None:
    uri, _ = store
    frame = boosts(seed=12)
    good = fit_models(frame, FEATURES, fast.ranker, "test-v1")
    first = log_run(store, good)
    with mlflow_store.tracking(uri) as client:
        decision = promotion.decide_promotion("auto", "captured_at_k", 0.9, None, None)
        run_record.apply_promotion(client, "sparkpick-ranker", first.model_version, decision)
        assert serving.alias_version(client, "sparkpick-ranker", "champion") == first.model_version

    # pyfunc from the registry gives the same scores as the in-memory ranker
    valid = good.valid
    with mlflow_store.tracking(uri):
        pyfunc = mlflow.pyfunc.load_model("models:/sparkpick-ranker@champion")
        out = pyfunc.predict(good.scoring_model.matrix(valid))
    assert np.allclose(out["score"].to_numpy(), good.ranker.predict(valid), rtol=0, atol=1e-12)
    assert np.allclose(out["predicted_uplift"].to_numpy(), good.scoring_model.predict(valid)["predicted_uplift"])

    # a worse model (it only sees audience size and noise) is refused, measured on the same decisions
    worse = fit_models(frame, WEAK, fast.ranker, "test-v1")
    compared = compare(uri, worse)
    assert compared.version == first.model_version and compared.problem is None
    decision = decide(compared)
    assert decision.alias == "challenger", decision.reason
    # the champion was refit on all of `frame`: it has seen every validation decision of a model trained on
    # the same rows, so there is nothing fair to compare on, and it stays champion
    assert compared.decisions == 0 and compared.since == good.scoring_model.metadata["trained_through"]
    assert "no fair comparison" in decision.reason


def compare(uri: str, fitted) -> champion_comparison.ChampionComparison:
    with mlflow_store.tracking(uri) as client:
        return champion_comparison.evaluate_champion(client, "sparkpick-ranker", fitted, "captured_at_k", 5)


def decide(compared: champion_comparison.ChampionComparison) -> promotion.PromotionDecision:
    return promotion.decide_promotion(
        "auto", "captured_at_k", compared.new_value if compared.new_value is not None else float("nan"),
        compared.champion_value, compared.version, compared.problem, decisions=compared.decisions,
        since=compared.since,
    )


def make_champion(store: tuple[str, Path], fitted) -> str:
    logged = log_run(store, fitted)
    with mlflow_store.tracking(store[0]) as client:
        run_record.apply_promotion(client, "sparkpick-ranker", logged.model_version,
                                   promotion.PromotionDecision("champion", "first"))
    return logged.model_version


def test_feature_version_mismatch_and_missing_champion(boosts, fast: Settings, store: tuple[str, Path]) -> None:
    uri, _ = store
    with mlflow_store.tracking(uri) as client, pytest.raises(InputError, match="sparkpick train"):
        serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    assert not serving.has_champion(uri, "sparkpick-ranker")
    fitted = fit_models(boosts(n_weeks=10, seed=4), FEATURES, fast.ranker, "old-v0")
    logged = log_run(store, fitted)
    with mlflow_store.tracking(uri) as client:
        run_record.apply_promotion(client, "sparkpick-ranker", logged.model_version,
                                   promotion.PromotionDecision("champion", "first"))
        served = serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    assert serving.has_champion(uri, "sparkpick-ranker")
    assert served.version == logged.model_version
    serving.check_feature_version(served, "old-v0")
    with pytest.raises(InputError, match="retrain"):
        serving.check_feature_version(served, "new-v1")
    assert isinstance(pd.Timestamp("2026-01-01"), pd.Timestamp)


@pytest.mark.parametrize("damage", ["calibration.json", "booster_0.txt"])
def test_damaged_model_files_are_named_with_what_to_do(
    boosts, fast: Settings, store: tuple[str, Path], damage: str
) -> None:
    from sparkpick.errors import DamagedFileError

    fitted = fit_models(boosts(n_weeks=10, seed=6), FEATURES, fast.ranker, "test-v1")
    version = make_champion(store, fitted)
    uri, root = store
    files = [p for p in root.rglob(damage) if "artifacts" in p.parts]
    assert files
    for path in files:  # half-written
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    with mlflow_store.tracking(uri) as client, pytest.raises(DamagedFileError) as caught:
        serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    message = str(caught.value)
    assert f"models:/sparkpick-ranker/{version}" in message and str(root) in message
    assert "sparkpick train --promote force" in message


def _damage_registry(db: Path, damage: str) -> None:
    with closing(sqlite3.connect(db)) as con, con:
        if damage == "alias names a missing version":
            con.execute("UPDATE registered_model_aliases SET version = 99")
        else:
            con.execute("DROP TABLE registered_model_aliases")


@pytest.mark.parametrize("damage", ["alias names a missing version", "alias table gone"])
def test_a_damaged_alias_is_named_never_read_as_no_champion(
    boosts, fast: Settings, store: tuple[str, Path], damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from sparkpick.errors import DamagedFileError

    fitted = fit_models(boosts(n_weeks=10, seed=6), FEATURES, fast.ranker, "test-v1")
    make_champion(store, fitted)
    uri, root = store
    _damage_registry(root / "mlflow.db", damage)
    capfd.readouterr()

    def load() -> None:
        with mlflow_store.tracking(uri) as client:
            serving.load_model(client, serving.champion_uri("sparkpick-ranker"))

    def compare() -> None:  # what `sparkpick train` asks before its gate
        with mlflow_store.tracking(uri) as client:
            champion_comparison.evaluate_champion(client, "sparkpick-ranker", fitted, "captured_at_k", 5)

    for call in (lambda: serving.has_champion(uri, "sparkpick-ranker"), load, compare,
                 lambda: track_record_tags.serving_promises(uri, "sparkpick-ranker")):
        with pytest.raises(DamagedFileError) as caught:
            call()
        message = str(caught.value)
        assert str(root / "mlflow.db") in message and "damaged" in message, message
        assert "sparkpick train" in message and "[SQL" not in message
        if damage == "alias names a missing version":
            assert "the alias 'champion' of sparkpick-ranker names version 99" in message
        else:
            assert "no such table: registered_model_aliases" in message
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out  # MLflow's own logged traceback is not shown


def test_a_champion_whose_files_are_gone_is_named_with_its_folder(
    boosts, fast: Settings, store: tuple[str, Path]
) -> None:
    from sparkpick.errors import DamagedFileError

    fitted = fit_models(boosts(n_weeks=10, seed=6), FEATURES, fast.ranker, "test-v1")
    version = make_champion(store, fitted)
    uri, _root = store
    with mlflow_store.tracking(uri) as client:
        folder = Path(client.get_model_version_download_uri("sparkpick-ranker", version).removeprefix("file://"))
    shutil.rmtree(folder)
    assert serving.has_champion(uri, "sparkpick-ranker")  # the registry itself is whole
    with mlflow_store.tracking(uri) as client, pytest.raises(DamagedFileError) as caught:
        serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    message = str(caught.value)
    assert f"models:/sparkpick-ranker/{version}" in message and str(folder) in message
    assert "the folder is missing" in message and "No such artifact" not in message
