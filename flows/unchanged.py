"""A night with nothing new costs what changed: the scores of unchanged inputs are kept and reused.

Scoring is a pure function of the warehouse's contents, the champion model, the settings and the as-of
time. After scoring, the night keeps the scored frame under a fingerprint of those four
(`<home>/cache/nightly/`); a later run that finds the same fingerprint reuses the frame instead of
loading MLflow and LightGBM and scoring again. The model store is fingerprinted by its SQLite file's
size and modification time (any registration or promotion changes them); a store that is not a local
SQLite file cannot be fingerprinted cheaply, and such nights always score.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from sparkpick.config import Home, Settings
from sparkpick.warehouse import Warehouse

log = logging.getLogger("sparkpick.nightly")
_FOLDER = "nightly"
_SCORES_TABLE = "scores"  # written by scoring itself: not one of its inputs


@dataclass(frozen=True)
class ScoringInputs:
    """The fingerprint of everything the scores of one night depend on."""

    as_of: str
    warehouse: str
    model_store: str
    settings: str


def _model_store(home: Home, settings: Settings) -> str | None:
    uri = home.tracking_uri(settings)
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def scoring_inputs(home: Home, settings: Settings, as_of: pd.Timestamp) -> ScoringInputs | None:
    """The fingerprint now, or None when it cannot be taken cheaply (then the night scores)."""
    store = _model_store(home, settings)
    if store is None or not home.warehouse.exists():
        return None
    with Warehouse(home.warehouse) as wh:
        contents = wh.fingerprint(exclude=(_SCORES_TABLE,))
    config = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()
    return ScoringInputs(as_of=str(as_of), warehouse=contents, model_store=store, settings=config)


def _paths(home: Home) -> tuple[Path, Path]:
    folder = home.cache / _FOLDER
    return folder / "scored.parquet", folder / "scored.json"


def reuse_scores(home: Home, inputs: ScoringInputs | None) -> pd.DataFrame | None:
    """The scores kept under exactly these inputs, or None."""
    if inputs is None:
        return None
    frame_path, meta_path = _paths(home)
    try:
        kept = json.loads(meta_path.read_text(encoding="utf-8"))
        if kept != asdict(inputs):
            return None
        return pd.read_parquet(frame_path)
    except (OSError, ValueError) as exc:  # nothing kept yet, or a damaged copy: score again
        log.debug("no reusable scores: %s", exc)
        return None


def keep_scores(home: Home, inputs: ScoringInputs | None, scored: pd.DataFrame) -> None:
    """Keep `scored` under `inputs` for the next run (best effort: a failure only costs a re-score)."""
    frame_path, meta_path = _paths(home)
    meta_path.unlink(missing_ok=True)  # first forget the old fingerprint: never pair it with new scores
    if inputs is None:
        return
    try:
        frame_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = frame_path.with_suffix(".tmp")
        scored.to_parquet(tmp, index=False)
        tmp.replace(frame_path)
        meta_path.write_text(json.dumps(asdict(inputs)), encoding="utf-8")
    except (OSError, ValueError, TypeError) as exc:
        log.warning("the night's scores could not be kept for reuse (%s); the next run scores again", exc)
