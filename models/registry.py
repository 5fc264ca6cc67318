"""Everything that touches MLflow: the tracking store, the training run's record, the model registry,
the promotion gate and loading a served model. No other module in `models/` imports MLflow.

The registered model is a `mlflow.pyfunc` model logged from code: `models/sparkpick_ranker_pyfunc.py` travels
with it, its boosters, feature list and calibration are plain files beside it, and it declares (pinned) the
packages it needs. So it loads where sparkpick is not installed (a notebook, `mlflow models serve`), and
`mlflow.pyfunc.load_model(uri).predict(df)` returns `score`, `predicted_uplift`, `uplift_low`, `uplift_high`
through the same functions sparkpick's own scoring runs: both agree exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import socket
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.data
import mlflow.environment_variables as mlflow_env
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.tracking._model_registry import utils as _registry_utils
from mlflow.tracking._tracking_service import utils as _tracking_utils
from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM, disable_logging, enable_logging

from models import sparkpick_ranker_pyfunc
from models.evaluate import ranking_metrics
from models.explain import shap_summary
from models.plots import gain_curve_figure, importance_figure, shap_beeswarm_figure
from models.prior import KIND_TAG, PRIOR_KIND, RANKER_KIND
from models.ranker import ScoringModel
from models.training import (
    DECISION_TIME,
    GROUP,
    LABEL_DEFINITION,
    MODEL,
    RELEVANCE,
    TRAINED_THROUGH,
    UPLIFT,
    FittedModels,
)
from sparkpick.errors import DamagedFileError, InputError

CHAMPION = "champion"
CHALLENGER = "challenger"
# The model's code, logged with it (it imports only the requirements below).
MODEL_CODE = Path(sparkpick_ranker_pyfunc.__file__)
PROMOTION_MODES = ("auto", "never", "force")
GATE_METRICS = ("ndcg_at_k", "precision_at_k", "captured_at_k")
# The logged model's requirements, pinned to the versions it was trained with (inferring them costs
# seconds per run). They are all it needs: sparkpick itself is not one of them.
_REQUIRED_PACKAGES = ("lightgbm", "pandas", "numpy", "scikit-learn", "mlflow")
_SECRET_WORDS = ("password", "secret", "api_key", "access_token")
_INPUT_EXAMPLE_ROWS = 5
# Model-version tags of what validation promised, and the prefix of the track record's metrics and tags.
BAND_COVERAGE_TAG = "band_coverage"
RANK_CORRELATION_TAG = "validation_rank_correlation"
TRACK_RECORD_PREFIX = "track_record."
_MAX_TAG_CHARS = 4000
# The gate's judgement on a version; a training run's process (to tell a killed run from a running one).
PROMOTION_TAG = "promotion"
PID_TAG, HOST_TAG, INTERRUPTED_TAG = "sparkpick.pid", "sparkpick.host", "sparkpick.interrupted"
# A RUNNING run from before runs carried their process (or from another host) is abandoned after a day.
_UNTAGGED_RUN_STALE_S = 24 * 3600
# MLflow's own logger and alembic's (its store migrations): only their errors reach the user.
_QUIET_LOGGERS = ("mlflow", "alembic")
_MLFLOW_MODULES = r"mlflow(\.|$)"
# MLflow's tqdm bar while it copies a model's files (one per load): noise on a user's terminal.
_PROGRESS_BAR = mlflow_env.MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR


# SQLite's words for a store file that is not (or no longer) a whole database.
# "no such table/column": a table (or column) every MLflow store has is gone, e.g. the alias table dropped.
_DAMAGED_STORE_WORDS = ("malformed", "not a database", "file is encrypted", "no such table", "no such column")
# MLflow logs every SQL error with its traceback before raising it: the error is raised (and named) anyway.
_SQL_ERROR_LOGGER = "mlflow.store.db.utils"


def _damaged_store(db: Path, exc: BaseException) -> DamagedFileError:
    return DamagedFileError(
        db, "The MLflow store", "Restore it from a backup; or move it aside and run `sparkpick train` to start "
        "a new store (the old runs and registered models are then no longer listed).", _first_line(exc))


def _first_line(exc: BaseException) -> str:
    """The error's first line without the driver's class name (`(sqlite3.DatabaseError) ...`)."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^\([\w.]+\)\s*", "", line)[:200]


def pip_requirements() -> list[str]:
    """`package==version` for each package the served model needs, as installed here."""
    return [f"{name}=={metadata.version(name)}" for name in _REQUIRED_PACKAGES]


class RankerPyfunc(mlflow.pyfunc.PythonModel):
    """The pickled pyfunc of models registered before the model travelled (one `scoring_model.json`
    artifact): kept so that such a champion still loads and scores here. New models are logged from code."""

    def load_context(self, context: Any) -> None:
        self.model = ScoringModel.from_json(Path(context.artifacts["scoring_model"]).read_text())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.model.predict(model_input).reset_index(drop=True)


@dataclass(frozen=True)
class ServedModel:
    """A model loaded from the store, with where it came from."""

    model: ScoringModel
    uri: str
    name: str | None
    version: str | None
    run_id: str | None


@dataclass(frozen=True)
class PromotionDecision:
    """Which alias the new version gets (None: none), and why, in a sentence."""

    alias: str | None
    reason: str
    champion_value: float | None = None


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_version: str
    model_uri: str


@contextmanager
def _quiet() -> Iterator[None]:
    """Only MLflow's errors get through for the duration: not its INFO and WARNING lines (creating and
    migrating the store, pickling advice, example validation), nor the warnings raised in its code.

    MLflow sets its loggers' levels when it is imported, so they are set here, after the import, and put
    back afterwards; the warning filter goes with the block too.
    """
    loggers = [logging.getLogger(name) for name in (*_QUIET_LOGGERS, _SQL_ERROR_LOGGER)]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), _mlflow_settings({_PROGRESS_BAR: "false"}):
        warnings.filterwarnings("ignore", module=_MLFLOW_MODULES)
        for logger in loggers:
            logger.setLevel(logging.CRITICAL if logger.name == _SQL_ERROR_LOGGER else logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


@contextmanager
def _mlflow_settings(values: dict[Any, str | None]) -> Iterator[None]:
    """MLflow's own settings (its environment variables, through its API) as given for the duration
    (None: unset), then exactly as they were. sparkpick's configuration is not read here."""
    before = {variable: variable.get_raw() for variable in values}
    try:
        for variable, value in values.items():
            _put(variable, value)
        yield
    finally:
        for variable, value in before.items():
            _put(variable, value)


def _put(variable: Any, value: str | None) -> None:
    if value is None:
        variable.unset()
    else:
        variable.set(value)


@contextmanager
def _unprinted() -> Iterator[None]:
    """MLflow prints its registration notices ("Successfully registered model", "Created version") on its
    own output stream, bypassing logging: the stream is off for the duration (a failure still raises)."""
    was_on = MLFLOW_LOGGING_STREAM.enabled
    disable_logging()
    try:
        yield
    finally:
        if was_on:
            enable_logging()


@contextmanager
def tracking(uri: str) -> Iterator[MlflowClient]:
    """Point MLflow (tracking and registry) at `uri` for the duration, restoring the previous store.

    MLflow keeps quiet meanwhile (see `_quiet`): its notices are not for the user of a command.
    """
    # The URIs set before, exactly: `get_tracking_uri()` would turn "none set" into ./mlflow.db in the
    # working folder, and setting that back would send every later MLflow call there.
    previous = (_tracking_utils._tracking_uri, _registry_utils._registry_uri)
    # `mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI (for subprocesses): leave the
    # environment as it was, or a later command in this process would read the store as a user's choice.
    uris = (mlflow_env.MLFLOW_TRACKING_URI, mlflow_env.MLFLOW_REGISTRY_URI)
    with _quiet(), _mlflow_settings({variable: variable.get_raw() for variable in uris}):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield MlflowClient(tracking_uri=uri, registry_uri=uri)
        except Exception as exc:
            if uri.startswith("sqlite:///") and any(w in str(exc).lower() for w in _DAMAGED_STORE_WORDS):
                raise _damaged_store(Path(uri[len("sqlite:///"):]), exc) from exc
            raise
        finally:
            _tracking_utils.set_tracking_uri(previous[0])
            _registry_utils.set_registry_uri(previous[1])


# Columns of MLflow's SQLite store that hold artifact locations (absolute: MLflow resolves them so).
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


def relocate_store(db: Path, artifact_root: Path, experiment: str) -> str | None:
    """Point a moved home's MLflow store at its artifacts where they are now.

    MLflow records every artifact location as an absolute path. After the home folder is moved or copied,
    those still name the old place: loading a model fails, and new runs would write into the old folder.
    The old root is read from `experiment`'s location (`<old root>/<experiment>`); every location under it
    is rewritten under `artifact_root`, in one transaction. Returns the old root when something moved.
    """
    if not db.is_file():
        return None
    try:
        return _relocate(db, artifact_root, experiment)
    except sqlite3.DatabaseError as exc:
        if any(word in str(exc).lower() for word in _DAMAGED_STORE_WORDS):
            raise _damaged_store(db, exc) from exc
        raise


def _relocate(db: Path, artifact_root: Path, experiment: str) -> str | None:
    new_root = artifact_root.resolve().as_uri()
    with closing(sqlite3.connect(db, timeout=30)) as con, con:
        row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?", [experiment]).fetchone()
        suffix = f"/{experiment}"
        if row is None or not str(row[0]).endswith(suffix):
            return None
        old_root = str(row[0])[: -len(suffix)]
        if old_root in (new_root, str(artifact_root.resolve())):
            return None
        # The folder the store lives in holds the artifacts only if they were never put elsewhere on purpose.
        if Path(old_root.removeprefix("file://")).resolve() == artifact_root.resolve():
            return None
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column in _LOCATION_COLUMNS:
            if table in tables:
                con.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ? + 1) "
                    f"WHERE substr({column}, 1, ?) = ?", [new_root, len(old_root), len(old_root), old_root],
                )
        # MLflow's Default experiment took the working folder of the first command: keep it in the home too.
        con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = '0' "
                    "AND substr(artifact_location, 1, ?) != ?", [f"{new_root}/0", len(new_root), new_root])
    # Each logged model's MLmodel file records where it was logged (for information): say where it is now.
    for mlmodel in artifact_root.rglob("MLmodel"):
        text = mlmodel.read_text(encoding="utf-8")
        if old_root in text:
            mlmodel.write_text(text.replace(old_root, new_root), encoding="utf-8")
    return old_root


def ensure_experiment(client: MlflowClient, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, creating it with artifacts under `artifact_root` (None: the server decides)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (artifact_root / name).as_uri() if artifact_root is not None else None
    return client.create_experiment(name, artifact_location=location)


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


def decide_promotion(
    mode: str, metric: str, new_value: float, champion_value: float | None, champion_version: str | None,
    champion_problem: str | None = None, decisions: int | None = None, since: str | None = None,
) -> PromotionDecision:
    """The promotion gate: who becomes champion, and the reason in words.

    `auto`: the first model becomes champion; later ones only when they beat the current champion on the
    same validation decisions by `metric` (strictly), counting only the `decisions` the champion was not
    fitted on (after `since`); otherwise, or when there are none, they become challenger. A champion that
    cannot be evaluated on the new data (`champion_problem`, e.g. another feature version) is replaced.
    `never`: challenger, whatever the figures. `force`: champion, whatever the figures.
    """
    if mode not in PROMOTION_MODES:
        raise InputError(f"--promote must be one of {', '.join(PROMOTION_MODES)}, not {mode!r}.")
    shown = f"{metric} {new_value:.3f}"
    if mode == "force":
        return PromotionDecision(CHAMPION, f"promoted by --promote force ({shown})", champion_value)
    if mode == "never":
        return PromotionDecision(CHALLENGER, f"not promoted: --promote never ({shown})", champion_value)
    if champion_version is None:
        return PromotionDecision(CHAMPION, f"first model: it becomes champion ({shown})")
    if champion_problem is not None:
        return PromotionDecision(
            CHAMPION, f"champion v{champion_version} cannot be evaluated here ({champion_problem}); "
            f"the new model replaces it ({shown})",
        )
    if decisions == 0:
        return PromotionDecision(
            CHALLENGER,
            f"kept champion v{champion_version}: it was fitted on every validation decision (through "
            f"{since}), so there is no fair comparison yet; it will be compared on decisions after that "
            f"(or use --promote force)",
        )
    if champion_value is None or math.isnan(champion_value):
        return PromotionDecision(
            CHAMPION, f"champion v{champion_version} has no {metric} on these decisions; replaced ({shown})"
        )
    if math.isnan(new_value) or new_value <= champion_value:
        return PromotionDecision(
            CHALLENGER,
            f"kept champion v{champion_version}: on the same validation decisions its {metric} is "
            f"{champion_value:.3f} and the new model's {new_value:.3f} does not beat it",
            champion_value,
        )
    return PromotionDecision(
        CHAMPION,
        f"beats champion v{champion_version} on the same validation decisions: {metric} "
        f"{new_value:.3f} > {champion_value:.3f}",
        champion_value,
    )


_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_REGISTRY_REMEDY = ("Restore the home's mlruns/ folder from a backup, or run `sparkpick train --promote force` to "
                    "register and serve a new model.")


def _store_location(client: MlflowClient) -> str:
    """The store a client reads: the SQLite file's path, else its URI."""
    uri = str(client.tracking_uri)
    return uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else uri


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version holding `alias`, or None when there is none (no such alias, or no such registered model).

    An alias that names a version the registry does not hold is a damaged registry (`DamagedFileError`), never
    "no champion": a night would otherwise train a new model and crown it without the promotion gate. Other
    store errors (a table gone, the store locked) are raised as they are (`tracking` names a damaged store).
    """
    try:
        aliases = dict(client.get_registered_model(name).aliases or {})
    except MlflowException as exc:
        if exc.error_code == _NOT_FOUND:
            return None
        raise
    if alias not in aliases:
        return None
    version = str(aliases[alias])
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code != _NOT_FOUND:
            raise
        raise DamagedFileError(
            _store_location(client), "The MLflow registry", _REGISTRY_REMEDY,
            f"the alias '{alias}' of {name} names version {version}, which the registry does not hold",
        ) from exc
    return version


@dataclass(frozen=True)
class ChampionComparison:
    """The champion and the new model measured on the same validation decisions, the ones the champion
    was not fitted on (a champion refit on every row has seen older ones, and would win on them unfairly).

    `decisions` is how many such decisions there were (None when nothing was compared: no champion, or
    `problem` says why it could not be evaluated at all). Versions and values are None without a champion.
    """

    version: str | None = None
    champion_value: float | None = None
    new_value: float | None = None
    decisions: int | None = None
    since: str | None = None
    problem: str | None = None


def evaluate_champion(
    client: MlflowClient, model_name: str, fitted: FittedModels, metric: str, k: int
) -> ChampionComparison:
    """Score the champion and the new (held-out) model on the validation decisions after the
    champion's `trained_through` (all of them for a champion that does not say)."""
    version = alias_version(client, model_name, CHAMPION)
    if version is None:
        return ChampionComparison()
    try:
        served = load_model(client, champion_uri(model_name))
        check_feature_version(served, fitted.scoring_model.feature_version)
        missing = [f for f in served.model.feature_names if f not in fitted.valid]
        if missing and not served.model.is_prior:
            raise InputError(f"it needs features the data lacks: {', '.join(missing[:5])}")
    except InputError as exc:
        return ChampionComparison(version=version, problem=str(exc))
    # The prior reads a missing cue (no video featurised) as adding nothing, as when it scores.
    valid = fitted.valid.assign(**dict.fromkeys(missing, float("nan"))) if missing else fitted.valid
    since = served.model.metadata.get(TRAINED_THROUGH)
    times = pd.to_datetime(valid[DECISION_TIME])
    unseen = (times > pd.Timestamp(since)).to_numpy() if since else np.ones(len(valid), dtype=bool)
    rows = valid[unseen]
    if rows.empty:
        return ChampionComparison(version=version, decisions=0, since=since)

    def measured(scores: Any) -> float:
        return float(ranking_metrics(
            rows[UPLIFT].to_numpy(), rows[RELEVANCE].to_numpy(), scores, rows[GROUP].to_numpy(), k,
        )[metric])

    return ChampionComparison(
        version=version,
        champion_value=measured(served.model.scores(rows)),
        new_value=measured(fitted.valid_scores[MODEL][unseen]),
        decisions=int(rows[GROUP].nunique()),
        since=since,
    )


def has_champion(tracking_uri: str, model_name: str) -> bool:
    """Whether the store at `tracking_uri` has a version of `model_name` with the `champion` alias."""
    with tracking(tracking_uri) as client:
        return alias_version(client, model_name, CHAMPION) is not None


def apply_promotion(client: MlflowClient, name: str, version: str, decision: PromotionDecision) -> None:
    """Record the gate's judgement on a version, then move the alias (a version holding an alias has always
    been judged)."""
    client.set_model_version_tag(name, version, PROMOTION_TAG, decision.reason)
    if decision.alias is not None:
        client.set_registered_model_alias(name, decision.alias, version)


def _process_gone(tags: dict[str, str]) -> bool:
    """Whether the process that tagged a run is known to be dead (same host, no such pid)."""
    if tags.get(HOST_TAG) != socket.gethostname():
        return False
    try:
        os.kill(int(tags.get(PID_TAG, "")), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OverflowError):
        return False
    return False


def sweep_interrupted(client: MlflowClient, experiment_id: str, model_name: str) -> list[str]:
    """Clean up after trainings that were killed: their runs stuck in RUNNING are marked FAILED, and any
    version the gate has not judged (no `promotion` tag, or a killed run's version holding no alias) is
    deleted. Returns one line per thing done.

    A run is abandoned when the process that started it (tagged with its host and pid) is gone, or, for a
    run without those tags, when it started over `_UNTAGGED_RUN_STALE_S` ago.
    """
    done: list[str] = []
    now_ms = time.time() * 1000
    abandoned: set[str] = set()
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'",
                                  max_results=1000):
        tags = run.data.tags
        untagged_stale = PID_TAG not in tags and now_ms - run.info.start_time > _UNTAGGED_RUN_STALE_S * 1000
        if _process_gone(tags) or untagged_stale:
            client.set_tag(run.info.run_id, INTERRUPTED_TAG, "the training process stopped before the run ended")
            client.set_terminated(run.info.run_id, status="FAILED")
            abandoned.add(run.info.run_id)
            done.append(f"run {run.info.run_id} was interrupted: marked FAILED")
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return done
    for mv in versions:
        if mv.aliases or (PROMOTION_TAG in (mv.tags or {}) and mv.run_id not in abandoned):
            continue
        if mv.run_id not in abandoned:  # an unjudged version of a run still going is that run's business
            try:
                if client.get_run(mv.run_id).info.status == "RUNNING":
                    continue
            except MlflowException:
                pass
        client.delete_model_version(model_name, mv.version)
        done.append(f"{model_name} v{mv.version} was never judged by the promotion gate: deleted")
    return done


def champion_uri(model_name: str) -> str:
    return f"models:/{model_name}@{CHAMPION}"


def _registry_ref(uri: str) -> tuple[str | None, str | None, str | None]:
    """(name, version, alias) of a `models:/NAME/VERSION` or `models:/NAME@ALIAS` URI."""
    if not uri.startswith("models:/"):
        return None, None, None
    ref = uri[len("models:/"):]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, None, alias
    name, _, version = ref.partition("/")
    return name, version or None, None


def load_model(client: MlflowClient, uri: str) -> ServedModel:
    """Load a model by URI (`models:/NAME@champion`, `models:/NAME/3`, `runs:/ID/model`, a path).

    A missing champion is an `InputError` that says to train first.
    """
    name, version, alias = _registry_ref(uri)
    run_id = None
    if name is not None:
        if alias:  # a damaged alias is named as such (alias_version), never taken for "train first"
            version = alias_version(client, name, alias)
        try:
            mv = client.get_model_version(name, version) if version is not None else None
        except MlflowException as exc:
            if exc.error_code != _NOT_FOUND:
                raise
            mv = None
        if mv is None:
            what = f"no model version has the alias '{alias}'" if alias else f"version {version} does not exist"
            raise InputError(
                f"Cannot load {uri}: {what} in the registry at {client.tracking_uri}. "
                "Run `sparkpick train` first (or pass --model-uri)."
            )
        version, run_id = str(mv.version), mv.run_id
        uri = f"models:/{name}/{version}"

    def damaged(exc: Exception) -> DamagedFileError:
        where = client.get_model_version_download_uri(name, version) if name is not None else uri
        folder = where.removeprefix("file://")
        gone = name is not None and "://" not in folder and not Path(folder).is_dir()
        return DamagedFileError(folder, f"The files of model {uri} at", _REGISTRY_REMEDY,
                                "the folder is missing" if gone else _first_line(exc))

    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        if name is not None:  # the registry holds the version: its files are missing or unreadable
            raise damaged(exc) from exc
        raise InputError(f"Cannot load the model {uri}: {exc}") from exc
    except Exception as exc:  # the model's own files fail to parse (half-written, truncated)
        raise damaged(exc) from exc
    inner = pyfunc.unwrap_python_model()
    if isinstance(inner, RankerPyfunc):
        model = inner.model
    elif isinstance(getattr(inner, "folder", None), Path):
        try:
            model = ScoringModel.load(inner.folder)
        except Exception as exc:
            raise damaged(exc) from exc
    else:
        raise InputError(f"{uri} is not a sparkpick ranker (it wraps {type(inner).__name__}).")
    return ServedModel(model=model, uri=uri, name=name, version=version, run_id=run_id)


def check_feature_version(served: ServedModel, current: str) -> None:
    """Refuse a model trained on another feature version: its columns would mean something else."""
    if served.model.feature_version != current:
        raise InputError(
            f"Model {served.uri} was trained on feature version {served.model.feature_version!r} but the "
            f"features are now {current!r}: retrain with `sparkpick train` before scoring."
        )


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
                mlflow.data.from_pandas(integers_as_doubles(frame), name=f"boosts_{context}", targets="uplift"),
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
            with _unprinted():
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
        if len(listed) > _MAX_TAG_CHARS:  # the registry caps tag values; the full list is in features.json
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
            with _unprinted():
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


def model_kind(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """`prior` or `ranker` for the version holding `alias` (None: no such version)."""
    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    return (mv.tags or {}).get(KIND_TAG, RANKER_KIND)


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


@dataclass(frozen=True)
class ServingPromises:
    """The serving (champion) version and what its validation promised; None where it did not say."""

    version: str | None
    run_id: str | None
    band_coverage: float | None
    rank_correlation: float | None


def _tag_float(tags: dict[str, str], name: str) -> float | None:
    try:
        value = float(tags[name])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def serving_promises(tracking_uri: str, model_name: str) -> ServingPromises:
    """The champion's version, run and validation promises (band coverage, rank correlation)."""
    with tracking(tracking_uri) as client:
        version = alias_version(client, model_name, CHAMPION)
        if version is None:
            return ServingPromises(None, None, None, None)
        mv = client.get_model_version(model_name, version)
        tags = dict(mv.tags or {})
        return ServingPromises(str(mv.version), mv.run_id, _tag_float(tags, BAND_COVERAGE_TAG),
                               _tag_float(tags, RANK_CORRELATION_TAG))


def log_track_record(
    tracking_uri: str, model_name: str, version: str, figures: dict[str, float], as_of: pd.Timestamp,
    summary: str,
) -> None:
    """Record the rolling track record on a served model version: each figure as a metric of its training
    run (`track_record.<name>`, one step per day since 1970, so the MLflow UI draws the series; a day
    already logged is not logged again) and the latest ones as model-version tags."""
    step = int(pd.Timestamp(as_of).normalize().value // 86_400_000_000_000)
    stamp = int(pd.Timestamp(as_of).value // 1_000_000)
    with tracking(tracking_uri) as client:
        mv = client.get_model_version(model_name, version)
        for name, value in figures.items():
            key = f"{TRACK_RECORD_PREFIX}{name}"
            if mv.run_id and not any(m.step == step for m in client.get_metric_history(mv.run_id, key)):
                client.log_metric(mv.run_id, key, float(value), timestamp=stamp, step=step)
            client.set_model_version_tag(model_name, version, key, f"{value:.6g}")
        tags = {"as_of": pd.Timestamp(as_of).isoformat(), "summary": summary[:_MAX_TAG_CHARS]}
        for name, text in tags.items():
            client.set_model_version_tag(model_name, version, f"{TRACK_RECORD_PREFIX}{name}", text)
