"""Connecting to MLflow's store: MLflow pointed at it for a block, kept quiet, and a damaged store named."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import mlflow.environment_variables as mlflow_env
from mlflow.tracking import MlflowClient
from mlflow.tracking._model_registry import utils as _registry_utils
from mlflow.tracking._tracking_service import utils as _tracking_utils
from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM, disable_logging, enable_logging

from sparkpick.errors import DamagedFileError

# MLflow's own logger and alembic's (its store migrations): only their errors reach the user.
_QUIET_LOGGERS = ("mlflow", "alembic")
_MLFLOW_MODULES = r"mlflow(\.|$)"
# MLflow's tqdm bar while it copies a model's files (one per load): noise on a user's terminal.
_PROGRESS_BAR = mlflow_env.MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
# SQLite's words for a store file that is not (or no longer) a whole database.
# "no such table/column": a table (or column) every MLflow store has is gone, e.g. the alias table dropped.
DAMAGED_STORE_WORDS = ("malformed", "not a database", "file is encrypted", "no such table", "no such column")
# MLflow logs every SQL error with its traceback before raising it: the error is raised (and named) anyway.
_SQL_ERROR_LOGGER = "mlflow.store.db.utils"


def damaged_store(db: Path, exc: BaseException) -> DamagedFileError:
    return DamagedFileError(
        db, "The MLflow store", "Restore it from a backup; or move it aside and run `sparkpick train` to start "
        "a new store (the old runs and registered models are then no longer listed).", first_line(exc))


def first_line(exc: BaseException) -> str:
    """The error's first line without the driver's class name (`(sqlite3.DatabaseError) ...`)."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^\([\w.]+\)\s*", "", line)[:200]


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
def unprinted() -> Iterator[None]:
    """MLflow prints its registration notices ("Successfully registered model", "Created version") on its
    own output stream, bypassing logging: the stream is off for the duration (a failure still raises)."""
    was_on = MLFLOW_LOGGING_STREAM.enabled
    disable_logging()  # type: ignore[no-untyped-call]  # (MLflow leaves these two unannotated)
    try:
        yield
    finally:
        if was_on:
            enable_logging()  # type: ignore[no-untyped-call]


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
    before = {variable: variable.get_raw() for variable in uris}  # type: ignore[no-untyped-call]
    with _quiet(), _mlflow_settings(before):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield MlflowClient(tracking_uri=uri, registry_uri=uri)
        except Exception as exc:
            if uri.startswith("sqlite:///") and any(w in str(exc).lower() for w in DAMAGED_STORE_WORDS):
                raise damaged_store(Path(uri[len("sqlite:///"):]), exc) from exc
            raise
        finally:
            # None (no URI was set) is put back as it was, though MLflow's annotations do not list it.
            _tracking_utils.set_tracking_uri(previous[0])  # type: ignore[arg-type]
            _registry_utils.set_registry_uri(previous[1])  # type: ignore[arg-type]


def ensure_experiment(client: MlflowClient, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, creating it with artifacts under `artifact_root` (None: the server decides)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (artifact_root / name).as_uri() if artifact_root is not None else None
    return client.create_experiment(name, artifact_location=location)
