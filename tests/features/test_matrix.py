"""Candidate and training matrices: columns, windows, video join, groups and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.labels import uplift_labels
from features.matrix import (
    DISPLAY_COLUMNS,
    FEATURE_DESCRIPTIONS,
    FLAG_COLUMNS,
    candidate_matrix,
    describe_feature,
    feature_columns,
    feature_version,
    training_matrix,
)
from sparkpick.config import Settings
from sparkpick.errors import InputError
from tests.features.synth import START, make_tables

T = START + pd.Timedelta(days=40)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return make_tables(seed=1, n_posts=80)


def test_candidates_are_the_window_before_t(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    frame = candidate_matrix(tables, T, settings)
    posts = tables["posts"]
    window = pd.Timedelta(days=settings.features.candidate_window_days)
    expected = posts[(posts["posted_at"] <= T) & (posts["posted_at"] > T - window)]
    assert sorted(frame["post_id"]) == sorted(expected["post_id"])
    assert list(frame.columns[:3]) == ["advertiser_id", "post_id", "as_of"]
    assert (frame["as_of"] == T).all()
    one = candidate_matrix(tables, T, settings, advertiser_id="adv1")
    assert set(one["advertiser_id"]) == {"adv1"}
    assert len(one) == (expected["advertiser_id"] == "adv1").sum()
    with pytest.raises(InputError, match="nobody"):
        candidate_matrix(tables, T, settings, advertiser_id="nobody")


def test_feature_columns_exclude_ids_flags_and_display(
    tables: dict[str, pd.DataFrame], settings: Settings
) -> None:
    frame = candidate_matrix(tables, T, settings)
    feats = feature_columns(frame)
    assert feats == feature_columns(frame[frame.columns[::-1]])  # stable whatever the column order
    assert not set(feats) & (set(DISPLAY_COLUMNS) | set(FLAG_COLUMNS) | {"advertiser_id", "post_id", "as_of"})
    assert set(FLAG_COLUMNS) <= set(frame.columns) and set(DISPLAY_COLUMNS) <= set(frame.columns)
    assert all(frame[c].dtype == bool for c in FLAG_COLUMNS)
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in feats)
    for col in feats:
        assert describe_feature(col) and describe_feature(col) != col
    assert set(feats) <= set(FEATURE_DESCRIPTIONS)
    # The display counts are the latest snapshot's, the same as the features.
    shown = frame["views"].astype("float64")
    assert np.allclose(shown.fillna(-1), frame["views_latest"].fillna(-1))
    assert frame.attrs["feature_version"] == feature_version(settings)
    assert frame.attrs["data_quality"]["snapshots_in"] == len(tables["metrics"])


def test_video_cues_are_joined_and_missing_stays_missing(
    tables: dict[str, pd.DataFrame], settings: Settings
) -> None:
    frame0 = candidate_matrix(tables, T, settings)
    some = frame0["post_id"].iloc[:3].tolist()
    video = pd.DataFrame(
        {
            "post_id": some,
            "video_status": ["ok", "ok", "failed"],
            "polish_score": [80.0, 20.0, np.nan],
            "polish_reasons": ["studio lighting", "handheld", None],
            "thumbnail_path": ["a.jpg", "b.jpg", None],
            "video_duration_s": [10.0, 20.0, np.nan],
            "video_decoded_s": [10.0, 20.0, np.nan],
            "video_hook_motion": [0.5, 0.1, np.nan],
        }
    )
    frame = candidate_matrix(tables, T, settings, video=video)
    feats = feature_columns(frame)
    assert "video_hook_motion" in feats and "video_duration_s" in feats
    assert "polish_score" not in feats and "video_status" not in feats and "video_decoded_s" not in feats
    assert "video_polish_score" in feats  # the score as a model input under its own name
    by_post = frame.set_index("post_id")
    assert by_post.loc[some[0], "polish_score"] == 80.0
    assert by_post.loc[some[1], "video_polish_score"] == 20.0
    # the looks-like-an-ad flag is decided here, with the other flags, and is never a model input
    assert by_post["flag_looks_like_ad"].dtype == bool and "flag_looks_like_ad" not in feats
    assert settings.report.polish_ad_threshold < 80.0
    assert by_post.loc[some, "flag_looks_like_ad"].tolist() == [True, False, False]
    assert not by_post.drop(index=some)["flag_looks_like_ad"].any()
    assert by_post.loc[some[0], "watch_fraction"] == pytest.approx(by_post.loc[some[0], "watch_time_s"] / 10)
    others = by_post.drop(index=some)
    assert others["video_hook_motion"].isna().all()  # never zero-filled
    assert (others["video_status"] == "none").all()  # the synthetic posts have no video files
    with_files = {**tables, "posts": tables["posts"].assign(video_path="videos/x.mp4")}
    pending = candidate_matrix(with_files, T, settings, video=video).set_index("post_id").drop(index=some)
    assert (pending["video_status"] == "pending").all()
    # Apart from watch fraction (which needs the duration), the tabular features are unchanged.
    same = [c for c in feature_columns(frame0) if c != "watch_fraction"]
    pd.testing.assert_frame_equal(frame0[same], frame[same])


def test_empty_window_gives_empty_frame(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    frame = candidate_matrix(tables, START - pd.Timedelta(days=100), settings)
    assert len(frame) == 0
    assert "views_latest" in frame.columns and "flag_calibrating" in frame.columns


def test_training_rows(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    frame = training_matrix(tables, settings)
    results = tables["spark_results"]
    labels = uplift_labels(results, tables["baselines"], tables["posts"], settings.label)
    assert len(frame) == labels.notna().sum() and len(frame) > 5
    keyed = results.assign(label=labels).set_index(["post_id", "boosted_at"])["label"]
    got = frame.set_index(["post_id", "boosted_at"])["uplift"]
    assert np.allclose(got, keyed.loc[got.index])
    assert (frame["as_of"] == frame["boosted_at"]).all()
    # Sorted by decision time and group, each group contiguous, decision time = the week's start.
    assert frame["decision_time"].is_monotonic_increasing
    runs = (frame["group_id"] != frame["group_id"].shift()).sum()
    assert runs == frame["group_id"].nunique()
    assert (frame["decision_time"] <= frame["boosted_at"]).all()
    assert (frame["boosted_at"] - frame["decision_time"] < pd.Timedelta(days=7)).all()
    assert frame["relevance"].dtype == "Int64"
    assert frame["relevance"].between(0, settings.label.relevance_levels - 1).all()
    top = frame.loc[frame.groupby("group_id")["uplift"].idxmax()]
    assert (top["relevance"] >= frame.groupby("group_id")["relevance"].max().loc[top["group_id"]].values).all()
    assert "boost_propensity" in frame and frame["boost_propensity"].notna().all()
    for col in ("group_id", "decision_time", "uplift", "relevance", "boost_propensity", "boosted_at"):
        assert col not in feature_columns(frame)


def test_training_until_cuts_off_results(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    until = START + pd.Timedelta(days=35)
    frame = training_matrix(tables, settings, until=until)
    full = training_matrix(tables, settings)
    assert (frame["ended_at"] < until).all()
    assert len(frame) < len(full)
    # Labels use only baselines ended before `until`; the features of a row do not depend on it.
    merged = frame.merge(full, on=["post_id", "boosted_at"], suffixes=("", "_full"))
    assert len(merged) == len(frame)
    for col in feature_columns(frame):
        assert np.allclose(merged[col], merged[f"{col}_full"], equal_nan=True), col


def test_missing_table_is_a_clear_error(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    partial = {k: v for k, v in tables.items() if k != "metrics"}
    with pytest.raises(InputError, match="metrics"):
        candidate_matrix(partial, T, settings)
    broken = {**tables, "posts": tables["posts"].drop(columns=["posted_at"])}
    with pytest.raises(InputError, match="posted_at"):
        candidate_matrix(broken, T, settings)
    no_partners = {k: v for k, v in tables.items() if k != "partnerships"}
    frame = candidate_matrix(no_partners, T, settings)
    assert (frame["partnership_ongoing"] == 0).all()


def test_zone_aware_inputs_read_as_utc(tables: dict[str, pd.DataFrame], settings: Settings) -> None:
    naive = candidate_matrix(tables, T, settings)
    posts = tables["posts"].assign(posted_at=tables["posts"]["posted_at"].dt.tz_localize("UTC").dt.tz_convert(
        "Europe/Amsterdam"))
    aware = candidate_matrix({**tables, "posts": posts}, T.tz_localize("UTC").tz_convert("Asia/Tokyo"), settings)
    pd.testing.assert_frame_equal(naive[feature_columns(naive)], aware[feature_columns(naive)])
    assert (aware["as_of"] == T).all()


def test_training_without_boosts_or_baselines_is_empty_not_an_error(
    tables: dict[str, pd.DataFrame], settings: Settings
) -> None:
    none = training_matrix({**tables, "spark_results": tables["spark_results"].iloc[:0]}, settings)
    assert len(none) == 0 and "uplift" in none.columns and "views_latest" in none.columns
    unlabelled = training_matrix({**tables, "baselines": tables["baselines"].iloc[:0]}, settings)
    assert len(unlabelled) == 0
    assert unlabelled.attrs["data_quality"]["labels_without_baseline"] == len(tables["spark_results"])
