"""The serving version's validation promises, and the nightly track record written on it (a real store)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from models import mlflow_store, promotion, run_record, track_record_tags
from models.training import fit_models
from sparkpick.config import Settings
from tests.models.conftest import FEATURES
from tests.models.test_serving import log_run


def test_validation_promises_and_track_record_on_the_serving_version(
    boosts, fast: Settings, store: tuple[str, Path]
) -> None:
    uri, _ = store
    assert track_record_tags.serving_promises(uri, "sparkpick-ranker").version is None
    fitted = fit_models(boosts(seed=5), FEATURES, fast.ranker, "test-v1")
    logged = log_run(store, fitted)
    with mlflow_store.tracking(uri) as client:
        run_record.apply_promotion(client, "sparkpick-ranker", logged.model_version,
                                   promotion.PromotionDecision(promotion.CHAMPION, "test"))
    promises = track_record_tags.serving_promises(uri, "sparkpick-ranker")
    assert promises.version == logged.model_version and promises.run_id == logged.run_id
    assert promises.band_coverage == pytest.approx(fast.ranker.band_coverage)
    # The planted order is strong: validation promises a clearly positive rank correlation.
    assert promises.rank_correlation == pytest.approx(run_record.validation_rank_correlation(fitted), abs=1e-6)
    assert promises.rank_correlation > 0.5

    as_of = pd.Timestamp("2026-10-01 02:00")
    figures = {"count": 40.0, "coverage": 0.75, "rank_correlation": 0.4, "retrain_due": 0.0}
    for _ in range(2):  # the same night twice logs each figure once
        track_record_tags.log_track_record(uri, "sparkpick-ranker", logged.model_version, figures, as_of, "Last 60 days: ...")
    track_record_tags.log_track_record(uri, "sparkpick-ranker", logged.model_version, {**figures, "count": 41.0},
                                       as_of + pd.Timedelta(days=1), "next night")
    with mlflow_store.tracking(uri) as client:
        history = client.get_metric_history(logged.run_id, "track_record.count")
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == [40.0, 41.0]
        assert history[0].step == (as_of.normalize() - pd.Timestamp("1970-01-01")).days
        tags = client.get_model_version("sparkpick-ranker", logged.model_version).tags
        assert tags["track_record.count"] == "41" and tags["track_record.summary"] == "next night"
        assert tags["track_record.as_of"].startswith("2026-10-02")
