"""Dates that cannot be right: a post before it was seen or received, a boost before its post or in the future."""

from __future__ import annotations

import pandas as pd

from sparkpick.contract.problems import Problem
from sparkpick.contract.tables import DTYPES


def first_observed_times(metrics: pd.DataFrame | None) -> pd.Series:
    """Each post's earliest engagement snapshot in this batch (naive UTC, by post_id). Unreadable times are
    left out here: the metrics check reports them."""
    if metrics is None or not {"post_id", "observed_at"} <= set(metrics.columns) or metrics.empty:
        return pd.Series(dtype=DTYPES["time"])
    raw = metrics["observed_at"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        times = pd.to_datetime(raw, utc=True)
    else:
        times = pd.to_datetime(raw.astype("str").str.strip(), utc=True, format="ISO8601", errors="coerce")
    seen = pd.DataFrame({"post_id": metrics["post_id"].astype("str").str.strip(),
                         "observed_at": times.dt.tz_localize(None)}).dropna()
    return seen.groupby("post_id")["observed_at"].min()


def post_date_problems(
    posts: pd.DataFrame, file: str, keys: pd.Series, first_observed: pd.Series, received_at: pd.Timestamp | None
) -> list[Problem]:
    """Posts dated after their own first engagement snapshot, or after the moment the data was received.

    Either means a wrong clock or a wrong column (a post cannot be seen before it exists); stored as given,
    it would put the post's features in the future of every decision that uses them.
    """
    problems: list[Problem] = []
    posted = posts["posted_at"]
    first = pd.Series(first_observed.reindex(posts["post_id"]).to_numpy(), index=posts.index)
    for i in posts.index[posted.notna() & first.notna() & (posted > first)]:
        problems.append(Problem(file, int(i) + 1, "posted_at",
                                f"posted_at {posted[i]} is after the post's own first metrics snapshot "
                                f"(observed_at {first[i]})", keys.get(i)))
    if received_at is not None:
        limit = received_at.tz_convert("UTC").tz_localize(None) if received_at.tzinfo else received_at
        for i in posts.index[posted.notna() & (posted > limit)]:
            problems.append(Problem(file, int(i) + 1, "posted_at",
                                    f"posted_at {posted[i]} is after the time of this ingest ({limit} UTC)",
                                    keys.get(i)))
    return problems


def boost_date_problems(
    boosts: pd.DataFrame, file: str, keys: pd.Series, posted: pd.Series, received_at: pd.Timestamp | None,
    max_boost_hours: float | None,
) -> list[Problem]:
    """Boosts (spark_results or spark_hourly rows) that start before their post was published, after the
    data was received, or (hourly rows) more than `max_boost_hours` before the boost's first hourly row.

    Each is a wrong date: stored, it would put a boost before its post exists, in the future, or give the
    monitor a boost years long. `posted` maps post_id to posted_at (naive UTC) for the posts known.
    """
    problems: list[Problem] = []
    boosted = boosts["boosted_at"]
    published = pd.Series(posted.reindex(boosts["post_id"]).to_numpy(), index=boosts.index)
    for i in boosts.index[boosted.notna() & published.notna() & (boosted < published)]:
        problems.append(Problem(file, int(i) + 1, "boosted_at",
                                f"boosted_at {boosted[i]} is before its post was published (posted_at {published[i]})",
                                keys.get(i)))
    if received_at is not None:
        limit = received_at.tz_convert("UTC").tz_localize(None) if received_at.tzinfo else received_at
        for i in boosts.index[boosted.notna() & (boosted > limit)]:
            problems.append(Problem(file, int(i) + 1, "boosted_at",
                                    f"boosted_at {boosted[i]} is after the time of this ingest ({limit} UTC)",
                                    keys.get(i)))
    if max_boost_hours is not None and "hour_start" in boosts.columns and len(boosts):
        first = boosts.groupby(["post_id", "boosted_at"])["hour_start"].transform("min")
        gap = (first - boosted) / pd.Timedelta(hours=1)
        for i in boosts.index[gap.notna() & (gap > max_boost_hours)]:
            problems.append(Problem(
                file, int(i) + 1, "boosted_at",
                f"boosted_at {boosted[i]} is {gap[i]:,.0f} hours before the boost's first hourly row "
                f"({first[i]}); at most {max_boost_hours:g} (contract.max_boost_hours): check the date", keys.get(i)))
    return problems
