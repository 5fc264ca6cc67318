"""Which version serves, and loading a model from the store with where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.mlflow_store import first_line, tracking
from models.promotion import CHAMPION
from models.ranker import ScoringModel
from models.registry import RankerPyfunc
from sparkpick.errors import DamagedFileError, InputError

_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_REGISTRY_REMEDY = ("Restore the home's mlruns/ folder from a backup, or run `sparkpick train --promote force` to "
                    "register and serve a new model.")


@dataclass(frozen=True)
class ServedModel:
    """A model loaded from the store, with where it came from."""

    model: ScoringModel
    uri: str
    name: str | None
    version: str | None
    run_id: str | None


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


def has_champion(tracking_uri: str, model_name: str) -> bool:
    """Whether the store at `tracking_uri` has a version of `model_name` with the `champion` alias."""
    with tracking(tracking_uri) as client:
        return alias_version(client, model_name, CHAMPION) is not None


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
        where = (client.get_model_version_download_uri(name, version)
                 if name is not None and version is not None else uri)
        folder = where.removeprefix("file://")
        gone = name is not None and "://" not in folder and not Path(folder).is_dir()
        return DamagedFileError(folder, f"The files of model {uri} at", _REGISTRY_REMEDY,
                                "the folder is missing" if gone else first_line(exc))

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
