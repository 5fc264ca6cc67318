"""The serving version's validation promises read from its tags, and the nightly track record written on it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from models.mlflow_store import tracking
from models.promotion import CHAMPION
from models.run_record import BAND_COVERAGE_TAG, MAX_TAG_CHARS, RANK_CORRELATION_TAG
from models.serving import alias_version

# The prefix of the track record's metrics and model-version tags.
TRACK_RECORD_PREFIX = "track_record."


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
        tags = {"as_of": pd.Timestamp(as_of).isoformat(), "summary": summary[:MAX_TAG_CHARS]}
        for name, text in tags.items():
            client.set_model_version_tag(model_name, version, f"{TRACK_RECORD_PREFIX}{name}", text)
