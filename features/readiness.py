"""Readiness as of T: can the post run as a Spark Ad now, and are its numbers settled yet?

Kept both as model features (numbers) and as shortlist flags (`flag_*` booleans, never model inputs). Every
flag is decided here; the report and the CSV only show them.
The posts table records the authorisation's current status and expiry only, so the status at a past T
is reconstructed from the expiry: a code that expires at or before T is expired at T, and a code
recorded as expired whose expiry lies after T was still valid at T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparkpick.config import FeaturesConfig
from sparkpick.vocabulary import Flag

_DAY = pd.Timedelta(days=1)
# The flags that hold a boost back (no code, a code that lapses before a boost could run its course, no
# usage rights, looks like an ad, numbers not settled: `Flag.blocks`): such a post takes no shortlist slot
# (models/policy.py) and is never a test pick; the closed-loop benchmark boosts only posts without them.
BLOCKING_FLAGS: tuple[str, ...] = tuple(f.column for f in Flag if f.blocks)


def auth_status_at(status: pd.Series, expires_at: pd.Series, as_of: pd.Series) -> pd.Series:
    """The Spark authorisation status ("none", "requested", "authorized", "expired") at `as_of`."""
    status = status.astype("object").where(status.notna(), "none")
    expired_by_t = expires_at.notna() & (expires_at <= as_of)
    valid_at_t = expires_at.notna() & (expires_at > as_of)
    out = status.where(~((status == "authorized") & expired_by_t), "expired")
    out = out.where(~((status == "expired") & valid_at_t), "authorized")
    return out.astype(str)


def auth_days_left(status_at_t: pd.Series, expires_at: pd.Series, as_of: pd.Series) -> pd.Series:
    """Days until the authorisation code expires (days; NaN when not authorised or no expiry known).
    A code about to lapse cannot carry a boost through its calibration."""
    days = (expires_at - as_of) / _DAY
    return days.where(status_at_t == "authorized").astype("float64")


def looks_like_ad(polish_score: pd.Series, threshold: float) -> pd.Series:
    """The flag `flag_looks_like_ad`: the video's polish score (0-100) above `threshold`
    (`report.polish_ad_threshold`). A post that looks like a produced advert loses the native feel a
    Spark Ad is paid for; an unknown score (no video, or not featurised yet) does not raise the flag."""
    polish = pd.to_numeric(polish_score, errors="coerce")
    return pd.Series((polish > threshold).fillna(False).to_numpy(bool), index=polish_score.index)


def readiness_features(
    queries: pd.DataFrame, organic_hours: pd.Series, usage_rights: pd.Series, config: FeaturesConfig
) -> pd.DataFrame:
    """Model features `auth_authorized`, `auth_requested` (1/0), `auth_days_left` (days) and
    `calibrating` (1/0: under `calibration_hours` of organic data, so its numbers are not yet stable),
    plus the flags `flag_no_auth_code`, `flag_auth_expiring`, `flag_no_usage_rights`,
    `flag_calibrating` and the display column `auth_status`."""
    as_of = queries["as_of"]
    status = auth_status_at(queries["spark_auth_status"], queries["spark_auth_expires_at"], as_of)
    days_left = auth_days_left(status, queries["spark_auth_expires_at"], as_of)
    calibrating = organic_hours.astype("float64") < config.calibration_hours
    out = pd.DataFrame(index=queries.index)
    out["auth_authorized"] = (status == "authorized").astype("float64")
    out["auth_requested"] = (status == "requested").astype("float64")
    out["auth_days_left"] = days_left
    out["calibrating"] = calibrating.astype("float64")
    out["auth_status"] = status
    out[Flag.NO_AUTH_CODE.column] = (status != "authorized").to_numpy(bool)
    out[Flag.AUTH_EXPIRING.column] = (days_left < config.auth_expiry_warning_days).fillna(False).to_numpy(bool)
    out[Flag.NO_USAGE_RIGHTS.column] = ~(usage_rights.astype("float64") > 0).to_numpy(bool)
    out[Flag.CALIBRATING.column] = np.asarray(calibrating, dtype=bool)
    return out
