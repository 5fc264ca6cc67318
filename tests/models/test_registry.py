"""The older pickled model's class: a champion registered before the model travelled still loads."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

from models import mlflow_store, promotion, registry, run_record, serving
from models.training import fit_models
from sparkpick.config import Settings
from tests.models.conftest import FEATURES


def test_a_champion_registered_before_the_model_travelled_still_loads(
    boosts, fast: Settings, store: tuple[str, Path], tmp_path: Path
) -> None:
    # the earlier format: a pickled `RankerPyfunc` with the whole model in one `scoring_model.json`
    fitted = fit_models(boosts(n_weeks=10, seed=5), FEATURES, fast.ranker, "test-v1")
    path = tmp_path / "scoring_model.json"
    path.write_text(fitted.scoring_model.to_json())
    uri, root = store
    with mlflow_store.tracking(uri) as client:
        exp = mlflow_store.ensure_experiment(client, "sparkpick", root)
        with mlflow.start_run(experiment_id=exp):
            info = mlflow.pyfunc.log_model(name="model", python_model=registry.RankerPyfunc(),
                                           artifacts={"scoring_model": str(path)},
                                           registered_model_name="sparkpick-ranker")
        run_record.apply_promotion(client, "sparkpick-ranker", str(info.registered_model_version),
                                   promotion.PromotionDecision("champion", "first"))
        served = serving.load_model(client, serving.champion_uri("sparkpick-ranker"))
    valid = fitted.valid
    assert np.array_equal(served.model.scores(valid), fitted.scoring_model.scores(valid))
    assert served.model.feature_version == "test-v1"


def test_the_older_pickled_model_class_keeps_the_import_path_its_pickles_name() -> None:
    # A champion registered before the model travelled is a pickle that names `models.registry.RankerPyfunc`:
    # moving the class would make such a champion fail to load.
    import cloudpickle

    assert b"models.registry" in cloudpickle.dumps(registry.RankerPyfunc())
