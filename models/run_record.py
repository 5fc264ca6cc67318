"""Recording a training run (or the prior) in MLflow and registering its version with the gate's judgement.

The registered model is a `mlflow.pyfunc` model logged from code: `models/sparkpick_ranker_pyfunc.py` travels
with it, its boosters, feature list and calibration are plain files beside it, and it declares (pinned) the
packages it needs. So it loads where sparkpick is not installed (a notebook, `mlflow models serve`), and
`mlflow.pyfunc.load_model(uri).predict(df)` returns `score`, `predicted_uplift`, `uplift_low`, `uplift_high`
through the same functions sparkpick's own scoring runs: both agree exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models import sparkpick_ranker_pyfunc
from models.explain import shap_summary
from models.mlflow_store import unprinted
from models.plots import gain_curve_figure, importance_figure, shap_beeswarm_figure
from models.prior import KIND_TAG, PRIOR_KIND, RANKER_KIND
from models.promotion import PROMOTION_TAG, PromotionDecision
from models.ranker import ScoringModel
from models.training import LABEL_DEFINITION, MODEL, TRAINED_THROUGH, UPLIFT, FittedModels

# The model's code, logged with it (it imports only the requirements below).
MODEL_CODE = Path(sparkpick_ranker_pyfunc.__file__)
# The logged model's requirements, pinned to the versions it was trained with (inferring them costs
# seconds per run). They are all it needs: sparkpick itself is not one of them.
_REQUIRED_PACKAGES = ("lightgbm", "pandas", "numpy", "scikit-learn", "mlflow")
_SECRET_WORDS = ("password", "secret", "api_key", "access_token")
_INPUT_EXAMPLE_ROWS = 5
# Model-version tags of what validation promised (the nightly track record holds the model to them).
BAND_COVERAGE_TAG = "band_coverage"
RANK_CORRELATION_TAG = "validation_rank_correlation"
# The registry caps a tag's value.
MAX_TAG_CHARS = 4000
# A training run's process (to tell a killed run from a running one).
PID_TAG, HOST_TAG = "sparkpick.pid", "sparkpick.host"


def pip_requirements() -> list[str]:
    """`package==version` for each package the served model needs, as installed here."""
    return [f"{name}=={metadata.version(name)}" for name in _REQUIRED_PACKAGES]


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_version: str
    model_uri: str


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as `section.key` -> string, leaving out anything that names a secret."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if any(word in name.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = json.dumps(value, default=str) if isinstance(value, list | tuple) else str(value)
    return out


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of a frame (row order included): the same data gives the same fingerprint."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(map(str, frame.columns)).encode()).hexdigest()[:16]


def integers_as_doubles(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every integer column (numpy or nullable) as float64, the rest untouched.

    MLflow's schemas (model signature, logged datasets) then say double: a double holds a missing value, so
    serving a row whose count is missing passes schema enforcement, where an integer column would fail it.
    """
    integers = [c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])]
    return frame.astype(dict.fromkeys(integers, "float64")) if integers else frame


def _log_figures(fitted: FittedModels, shortlist_k: int) -> pd.Series:
    contrib = fitted.scoring_model.contributions(fitted.valid)
    summary = shap_summary(contrib)
    mlflow.log_figure(gain_curve_figure(fitted.gain_curves, shortlist_k), "plots/gain_curve.png")
    mlflow.log_figure(
        importance_figure(fitted.ranker.feature_importance("gain"), "Feature importance (gain)"),
        "plots/feature_importance.png",
    )
    mlflow.log_figure(
        shap_beeswarm_figure(contrib, fitted.valid, list(summary.index)), "plots/shap_summary.png"
    )
    return summary


def log_training_run(
    client: MlflowClient,
    experiment_id: str,
    model_name: str,
    fitted: FittedModels,
    config: dict[str, Any],
    data_window: dict[str, str],
    training_rows: pd.DataFrame,
    shortlist_k: int,
    *,
    decision: PromotionDecision,
) -> LoggedRun:
    """Record one training run (config, data, metrics, plots, model), register the model version with the
    gate's `decision` and apply it.

    The version is created, with its tags and the judgement, only once everything else is logged, and the
    run ends after the alias has moved: a training killed on the way leaves a RUNNING run (marked FAILED by
    `sweep_interrupted` at the next start) and never a version the gate has not judged.
    """
    model = fitted.scoring_model
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.set_tags({PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
        mlflow.log_params(flatten(config))
        mlflow.log_params({f"data.{k}": v for k, v in data_window.items()})
        mlflow.log_params({
            "data.fingerprint": fingerprint(training_rows),
            "data.train_rows": len(fitted.train), "data.valid_rows": len(fitted.valid),
            "data.train_decisions": fitted.train["group_id"].nunique(),
            "data.valid_decisions": fitted.valid["group_id"].nunique(),
            "data.purged_rows": fitted.split.purged, "features.version": model.feature_version,
            "features.count": len(fitted.features), "label.definition": LABEL_DEFINITION,
            "train.propensity_weighted": fitted.weighted,
            "train.trees_per_member": json.dumps(fitted.ranker.best_iterations_),
            "train.refit_on_all_rows": fitted.ranker.refit_,
            "train.trained_through": model.metadata.get(TRAINED_THROUGH, ""),
        })
        mlflow.set_tags({"sparkpick.feature_version": model.feature_version, "sparkpick.stage": "train"})
        for context, frame in (("training", fitted.train), ("validation", fitted.valid)):
            mlflow.log_input(
                from_pandas(integers_as_doubles(frame), name=f"boosts_{context}", targets="uplift"),
                context=context,
            )
        for ordering, row in fitted.metrics.iterrows():
            for metric, value in row.items():
                if not math.isnan(value):
                    key = metric if ordering == MODEL else f"{ordering}.{metric}"
                    mlflow.log_metric(key, float(value))
        for ordering in fitted.gain_curves.columns:
            for k, value in fitted.gain_curves[ordering].items():
                if not math.isnan(value):
                    mlflow.log_metric(f"gain_curve.{ordering}", float(value), step=int(k))
        summary = _log_figures(fitted, shortlist_k)
        mlflow.log_dict({"features": fitted.features, "feature_version": model.feature_version,
                         "label_definition": LABEL_DEFINITION}, "features.json")
        mlflow.log_text(fitted.metrics.to_csv(), "evaluation/metrics.csv")
        mlflow.log_text(summary.to_csv(), "evaluation/shap_summary.csv")
        with tempfile.TemporaryDirectory() as tmp:
            folder = model.save(Path(tmp) / sparkpick_ranker_pyfunc.ARTIFACT_KEY)
            example = model.matrix(fitted.valid).head(_INPUT_EXAMPLE_ROWS)  # float64 already
            with unprinted():
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=MODEL_CODE,
                    artifacts={sparkpick_ranker_pyfunc.ARTIFACT_KEY: str(folder)},
                    signature=infer_signature(example, model.predict(example).reset_index(drop=True)),
                    input_example=example,
                    pip_requirements=pip_requirements(),
                )
        rho = validation_rank_correlation(fitted)
        if rho is not None:
            mlflow.log_metric(RANK_CORRELATION_TAG, rho)
        listed = json.dumps(fitted.features)
        if len(listed) > MAX_TAG_CHARS:  # the registry caps tag values; the full list is in features.json
            listed = f"{len(fitted.features)} features, listed in the run's features.json"
        tags = {"feature_version": model.feature_version, "features": listed,
                **{metric: f"{value:.6f}" for metric, value in fitted.metrics.loc[MODEL].items()},
                # What validation promises about single boosts, which the nightly track record holds it to.
                BAND_COVERAGE_TAG: f"{model.calibration.coverage:.6f}",
                **({RANK_CORRELATION_TAG: f"{rho:.6f}"} if rho is not None else {}),
                KIND_TAG: RANKER_KIND, PROMOTION_TAG: decision.reason}
        version = _register_judged(client, model_name, info, run.info.run_id, tags, decision)
    return LoggedRun(run.info.run_id, experiment_id, version, info.model_uri)


def _register_judged(
    client: MlflowClient, model_name: str, info: Any, run_id: str, tags: dict[str, str], decision: PromotionDecision,
) -> str:
    """Create the version of a logged model (inside its run) with its tags and the gate's judgement, and
    apply it; returns the version. It never exists unjudged: one call creates it with the judgement, and a
    failure before the alias moved deletes it again."""
    try:
        client.create_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    registered = client.create_model_version(model_name, source=info.model_uri, run_id=run_id, tags=tags,
                                             model_id=info.model_id)
    version = str(registered.version)
    try:
        if decision.alias is not None:
            client.set_registered_model_alias(model_name, decision.alias, version)
        mlflow.set_tag("sparkpick.promotion", decision.reason)
    except BaseException:  # Ctrl-C or a store error half-way: no version whose judgement was not applied
        client.delete_model_version(model_name, version)
        raise
    return version


def apply_promotion(client: MlflowClient, name: str, version: str, decision: PromotionDecision) -> None:
    """Record the gate's judgement on a version, then move the alias (a version holding an alias has always
    been judged)."""
    client.set_model_version_tag(name, version, PROMOTION_TAG, decision.reason)
    if decision.alias is not None:
        client.set_registered_model_alias(name, decision.alias, version)


def log_prior_run(
    client: MlflowClient, experiment_id: str, model_name: str, model: ScoringModel, config: dict[str, Any],
    *, decision: PromotionDecision, example: pd.DataFrame | None = None,
) -> LoggedRun:
    """Record the prior (models/prior.py) as a run and a model version like any trained ranker: its
    config and terms as parameters, the same pyfunc code and files, tagged `kind: prior`, with the gate's
    `decision` applied. No validation promises are tagged: the prior was never validated on boosts."""
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.set_tags({PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(),
                         "sparkpick.feature_version": model.feature_version, "sparkpick.stage": "prior"})
        mlflow.log_params(flatten(config))
        mlflow.log_params({"features.version": model.feature_version, "features.count": len(model.feature_names)})
        mlflow.log_dict({"terms": list(model.terms), "feature_version": model.feature_version}, "prior.json")
        frame = example if example is not None and len(example) else pd.DataFrame(
            {name: [0.0] for name in model.feature_names})
        matrix = model.matrix(frame).head(_INPUT_EXAMPLE_ROWS)
        with tempfile.TemporaryDirectory() as tmp:
            folder = model.save(Path(tmp) / sparkpick_ranker_pyfunc.ARTIFACT_KEY)
            with unprinted():
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=MODEL_CODE,
                    artifacts={sparkpick_ranker_pyfunc.ARTIFACT_KEY: str(folder)},
                    signature=infer_signature(matrix, model.predict(matrix).reset_index(drop=True)),
                    input_example=matrix, pip_requirements=pip_requirements(),
                )
        tags = {"feature_version": model.feature_version, "features": json.dumps(list(model.feature_names)),
                KIND_TAG: PRIOR_KIND, PROMOTION_TAG: decision.reason}
        version = _register_judged(client, model_name, info, run.info.run_id, tags, decision)
    return LoggedRun(run.info.run_id, experiment_id, version, info.model_uri)


def log_off_policy(client: MlflowClient, run_id: str, table: pd.DataFrame, counts: dict[str, int]) -> None:
    """The off-policy estimates on a training run: `off_policy.<policy>.<estimator>` with `.low`/`.high`
    (the 95% interval) and `.ess`, the table as `evaluation/off_policy.csv`, and the propensity counts
    as `off_policy.propensities.<from_scores|from_data|none>`."""
    for row in table.itertuples(index=False):
        key = f"off_policy.{row.policy}.{row.estimator}"
        for suffix, value in (("", row.value), (".low", row.low), (".high", row.high),
                              (".ess", row.effective_sample_size)):
            if value is not None and math.isfinite(float(value)):
                client.log_metric(run_id, f"{key}{suffix}", float(value))
    for name, n in counts.items():
        client.log_metric(run_id, f"off_policy.propensities.{name}", float(n))
    client.log_text(run_id, table.to_csv(index=False), "evaluation/off_policy.csv")


def validation_rank_correlation(fitted: FittedModels) -> float | None:
    """Spearman correlation of the held-out fits' scores with the realised uplift over all validation
    boosts (pooled, as the track record pools boosts), or None when it is undefined."""
    uplift = fitted.valid[UPLIFT].to_numpy(dtype="float64")
    scores = np.asarray(fitted.valid_scores[MODEL], dtype="float64")
    ok = np.isfinite(uplift) & np.isfinite(scores)
    if ok.sum() < 3 or np.ptp(uplift[ok]) == 0 or np.ptp(scores[ok]) == 0:
        return None
    rho = float(pd.Series(scores[ok]).corr(pd.Series(uplift[ok]), method="spearman"))
    return rho if math.isfinite(rho) else None
