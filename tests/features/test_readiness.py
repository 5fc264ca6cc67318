"""Readiness features and flags on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import readiness
from sparkpick.config import Settings

T = pd.Timestamp("2026-06-10 12:00")


def test_auth_status_at_t_uses_the_expiry() -> None:
    status = pd.Series(["authorized", "authorized", "expired", "expired", "requested", None])
    expires = pd.Series(
        [T + pd.Timedelta(days=3), T - pd.Timedelta(hours=1), T + pd.Timedelta(days=1), T - pd.Timedelta(days=1),
         pd.NaT, pd.NaT]
    )
    at_t = readiness.auth_status_at(status, expires, pd.Series([T] * 6))
    assert at_t.tolist() == ["authorized", "expired", "authorized", "expired", "requested", "none"]
    days = readiness.auth_days_left(at_t, expires, pd.Series([T] * 6))
    assert days.iloc[0] == 3.0 and days.iloc[2] == 1.0
    assert days.iloc[[1, 3, 4, 5]].isna().all()


def test_flags_and_features(settings: Settings) -> None:
    q = pd.DataFrame(
        {
            "as_of": [T] * 4,
            "spark_auth_status": ["authorized", "authorized", "none", "requested"],
            "spark_auth_expires_at": [T + pd.Timedelta(days=30), T + pd.Timedelta(days=2), pd.NaT, pd.NaT],
        }
    )
    organic = pd.Series([100.0, 47.9, 0.0, 48.0])
    rights = pd.Series([1.0, 0.0, 1.0, 1.0])
    f = readiness.readiness_features(q, organic, rights, settings.features)
    assert f["flag_no_auth_code"].tolist() == [False, False, True, True]
    assert f["flag_auth_expiring"].tolist() == [False, True, False, False]
    assert f["flag_no_usage_rights"].tolist() == [False, True, False, False]
    assert f["flag_calibrating"].tolist() == [False, True, True, False]  # 48 h of data is enough
    assert f["auth_authorized"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert f["auth_requested"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert f["calibrating"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert np.isnan(f["auth_days_left"].iloc[2])
    assert f["flag_no_auth_code"].dtype == bool


def test_looks_like_ad_is_a_polish_score_above_the_threshold() -> None:
    polish = pd.Series([80.0, 65.0, 64.9, np.nan, None], index=[10, 11, 12, 13, 14], dtype="object")
    flag = readiness.looks_like_ad(polish, 65.0)
    assert flag.tolist() == [True, False, False, False, False] and flag.dtype == bool
    assert flag.index.tolist() == [10, 11, 12, 13, 14]
    assert readiness.looks_like_ad(polish, 10.0).tolist() == [True, True, True, False, False]
