"""Organic engagement features of a post as of a decision time T.

Every function takes `queries` (one row per (post, T): columns `post_id`, `as_of`, `advertiser_id`,
`creator_id`, `posted_at`) and snapshots already passed through `features.quality.clean_metrics`, and
returns a frame aligned with `queries`' index. Only snapshots with `observed_at <= as_of` are used, so a
snapshot observed later cannot change a value. The per-value formulas are small pure functions below;
missing inputs give NaN (never 0), and LightGBM treats NaN as "unknown".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparkpick.clock import HOUR
from sparkpick.config import FeaturesConfig

_COUNTS = ("views", "likes", "comments", "shares")
# Peer comparisons: per-view rates and completion are comparable across post ages; views are compared
# at a fixed age (see `peer_views_hours`).
PEER_METRICS: tuple[str, ...] = ("views_at_age_log", "interaction_rate", "share_rate", "completion_rate")
MAD_TO_SIGMA = 1.4826  # makes the median absolute deviation estimate a normal standard deviation


# -- per-value formulas ------------------------------------------------------------------------------
def per_view(count: pd.Series, views: pd.Series) -> pd.Series:
    """An action count divided by views (a rate per view, 0..1 typically); NaN without views."""
    views = views.astype("float64")
    return (count.astype("float64") / views).where(views > 0)


def interaction_rate(likes: pd.Series, comments: pd.Series, shares: pd.Series, views: pd.Series) -> pd.Series:
    """(likes + comments + shares) per view: organic engagement rate with views as the denominator
    (organic data has no impressions). The first filter for Spark candidates."""
    return per_view(likes.astype("float64") + comments + shares, views)


def watch_fraction(avg_watch_s: pd.Series, duration_s: pd.Series) -> pd.Series:
    """Average watch time over video duration (fraction; can exceed 1 with re-watches). NaN without a
    known duration: holding attention matters more to strangers in a paid feed than raw views."""
    duration = duration_s.astype("float64")
    return (avg_watch_s.astype("float64") / duration).where(duration > 0)


def views_per_hour(views_now: pd.Series, views_before: pd.Series, hours: pd.Series) -> pd.Series:
    """Views gained per hour between two moments (views/hour): is the post still accelerating?"""
    hours = hours.astype("float64")
    return ((views_now.astype("float64") - views_before) / hours).where(hours > 0)


def robust_z(
    value: pd.Series, median: pd.Series, mad: pd.Series, n: pd.Series, min_peers: int, clip: float = np.inf
) -> pd.Series:
    """(value - peer median) / (1.4826 * peer MAD): how unusual the post is among comparable posts, in
    robust standard deviations, clipped to +-`clip`. NaN with fewer than `min_peers` peers or no spread
    among them."""
    scale = MAD_TO_SIGMA * mad.astype("float64")
    z = ((value.astype("float64") - median) / scale).clip(-clip, clip)
    return z.where((n >= min_peers) & (scale > 0))


def peer_views_hours(config: FeaturesConfig) -> float:
    """The age at which views are compared with peers: the middle configured growth age (24 h by default)."""
    hours = sorted(config.growth_hours)
    return hours[len(hours) // 2]


def growth_column(hours: float) -> str:
    """The column of views at `hours` after posting, e.g. `views_24h`."""
    return f"views_{hours:g}h"


def peer_column(metric: str, scope: str, config: FeaturesConfig) -> str:
    """The column comparing `metric` with the `scope` ("creator" or "advertiser") peers, e.g.
    `share_rate_vs_creator_z`; log views at the peer age read as `views_24h_vs_creator_z`."""
    name = growth_column(peer_views_hours(config)) if metric == "views_at_age_log" else metric
    return f"{name}_vs_{scope}_z"


# -- building blocks ---------------------------------------------------------------------------------
def with_history(metrics: pd.DataFrame) -> pd.DataFrame:
    """Snapshots with the previous snapshot's time and views, and a running snapshot count (computed
    once and reused by every `latest_snapshots` call)."""
    if "snapshot_count" in metrics.columns:
        return metrics
    m = metrics.sort_values(["post_id", "observed_at"], kind="stable").reset_index(drop=True)
    g = m.groupby("post_id", sort=False)
    m["prev_observed_at"] = g["observed_at"].shift(1)
    m["prev_views"] = g["views"].shift(1)
    m["snapshot_count"] = g.cumcount() + 1
    return m


def latest_snapshots(queries: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """For each query, its post's last snapshot observed at or before `as_of` (NaN columns if none).

    Columns: `observed_at`, the snapshot's metric columns, `prev_observed_at`, `prev_views` (the snapshot
    before it) and `snapshot_count` (snapshots seen by `as_of`). Aligned with `queries`' index.
    """
    hist = with_history(metrics)
    left = pd.DataFrame(
        {"_q": np.arange(len(queries)), "post_id": queries["post_id"].to_numpy(), "as_of": queries["as_of"]}
    )
    left["as_of"] = left["as_of"].astype("datetime64[us]")
    left["post_id"] = left["post_id"].astype(str)
    right = hist.drop(columns=["posted_at"], errors="ignore").sort_values("observed_at", kind="stable")
    right["observed_at"] = right["observed_at"].astype("datetime64[us]")
    right["post_id"] = right["post_id"].astype(str)
    merged = pd.merge_asof(
        left.sort_values("as_of", kind="stable"),
        right,
        left_on="as_of",
        right_on="observed_at",
        by="post_id",
        direction="backward",
        allow_exact_matches=True,
    )
    out = merged.set_index("_q").sort_index().drop(columns=["post_id", "as_of"])
    out.index = queries.index
    return out


def views_at_ages(posts: pd.DataFrame, metrics: pd.DataFrame, config: FeaturesConfig) -> pd.DataFrame:
    """Per post and configured age h: views h hours after posting and when that became knowable.

    Linear interpolation between the last snapshot at or before the age and the first at or after it
    (posting time counts as a snapshot with 0 views), only when the two are at most
    `growth_max_gap_hours` apart. `known_at_{h}` is the time of the later snapshot: the value may be used
    as of T only when `known_at <= T`, which keeps it point-in-time exact. Indexed by `post_id`.
    """
    base = posts[["post_id", "posted_at"]].drop_duplicates("post_id").copy()
    base["posted_at"] = base["posted_at"].astype("datetime64[us]")
    base["post_id"] = base["post_id"].astype(str)
    snaps = metrics[["post_id", "observed_at", "views"]].copy()
    snaps["observed_at"] = snaps["observed_at"].astype("datetime64[us]")
    snaps["post_id"] = snaps["post_id"].astype(str)
    snaps = snaps.sort_values("observed_at", kind="stable")
    out = pd.DataFrame(index=pd.Index(base["post_id"], name="post_id"))
    max_gap = pd.Timedelta(hours=config.growth_max_gap_hours)
    for hours in config.growth_hours:
        left = base.assign(target=base["posted_at"] + pd.Timedelta(hours=hours)).sort_values("target")
        before = pd.merge_asof(
            left, snaps, left_on="target", right_on="observed_at", by="post_id", direction="backward"
        )
        after = pd.merge_asof(
            left, snaps, left_on="target", right_on="observed_at", by="post_id", direction="forward"
        )
        before = before.set_index("post_id")
        after = after.set_index("post_id").reindex(before.index)
        t0 = before["observed_at"].fillna(before["posted_at"])
        v0 = before["views"].where(before["observed_at"].notna(), 0.0)
        t1, v1 = after["observed_at"], after["views"]
        span = (t1 - t0) / HOUR
        frac = (((before["target"] - t0) / HOUR) / span).where(span > 0, 1.0)
        value = (v0 + (v1 - v0) * frac).where(t1.notna() & ((t1 - t0) <= max_gap))
        col = growth_column(hours)
        out[col] = value.reindex(out.index)
        out[f"known_at_{col}"] = t1.where(value.notna()).reindex(out.index)
    return out


def engagement_features(
    queries: pd.DataFrame,
    latest: pd.DataFrame,
    ages: pd.DataFrame,
    config: FeaturesConfig,
    duration_s: pd.Series | None = None,
) -> pd.DataFrame:
    """Latest counts, rates, watch, growth and age of each queried post as of its `as_of`.

    `latest` comes from `latest_snapshots`, `ages` from `views_at_ages`; `duration_s` (video length in
    seconds, aligned with `queries`) is optional and watch fraction stays NaN without it.
    """
    out = pd.DataFrame(index=queries.index)
    for col in _COUNTS:
        out[f"{col}_latest"] = latest[col].astype("float64")
    out["watch_time_s"] = latest["avg_watch_s"].astype("float64")
    out["completion_rate"] = latest["full_watch_rate"].astype("float64")
    views = out["views_latest"]
    out["like_rate"] = per_view(out["likes_latest"], views)
    out["comment_rate"] = per_view(out["comments_latest"], views)
    out["share_rate"] = per_view(out["shares_latest"], views)
    out["interaction_rate"] = interaction_rate(
        out["likes_latest"], out["comments_latest"], out["shares_latest"], views
    )
    duration = duration_s if duration_s is not None else pd.Series(np.nan, index=queries.index)
    out["watch_fraction"] = watch_fraction(out["watch_time_s"], duration)
    as_of = queries["as_of"]
    posted = queries["posted_at"]
    ages_q = ages.reindex(queries["post_id"].to_numpy())
    for hours in config.growth_hours:
        col = growth_column(hours)
        value = pd.Series(ages_q[col].to_numpy(), index=queries.index)
        known = pd.Series(ages_q[f"known_at_{col}"].to_numpy(), index=queries.index)
        out[col] = value.where(known <= as_of)
    # The latest interval: from the previous snapshot, or from posting (0 views) for the first one.
    prev_t = latest["prev_observed_at"].fillna(posted.where(latest["observed_at"].notna()))
    prev_v = latest["prev_views"].where(latest["prev_observed_at"].notna(), 0.0)
    out["views_per_hour_recent"] = views_per_hour(views, prev_v, (latest["observed_at"] - prev_t) / HOUR)
    out["views_per_hour_lifetime"] = views_per_hour(
        views, pd.Series(0.0, index=queries.index), (latest["observed_at"] - posted) / HOUR
    )
    out["age_hours"] = (as_of - posted) / HOUR
    out["organic_data_hours"] = ((latest["observed_at"] - posted) / HOUR).fillna(0.0)
    out["snapshot_count"] = latest["snapshot_count"].astype("float64").fillna(0.0)
    return out


def _peer_values(
    peers: pd.DataFrame, metrics: pd.DataFrame, ages: pd.DataFrame, config: FeaturesConfig
) -> pd.DataFrame:
    """The peer metrics of each (query, peer post) pair as of the query's `as_of`."""
    latest = latest_snapshots(peers[["post_id", "as_of"]], metrics)
    vals = pd.DataFrame({"_q": peers["_q"].to_numpy()}, index=peers.index)
    views = latest["views"].astype("float64")
    vals["interaction_rate"] = interaction_rate(latest["likes"], latest["comments"], latest["shares"], views)
    vals["share_rate"] = per_view(latest["shares"], views)
    vals["completion_rate"] = latest["full_watch_rate"].astype("float64")
    col = growth_column(peer_views_hours(config))
    ages_p = ages.reindex(peers["post_id"].to_numpy())
    at_age = pd.Series(ages_p[col].to_numpy(), index=peers.index)
    known = pd.Series(ages_p[f"known_at_{col}"].to_numpy(), index=peers.index)
    vals["views_at_age_log"] = np.log1p(at_age.where(known <= peers["as_of"]))
    return vals


def peer_features(
    queries: pd.DataFrame,
    own: pd.DataFrame,
    posts: pd.DataFrame,
    metrics: pd.DataFrame,
    ages: pd.DataFrame,
    config: FeaturesConfig,
) -> pd.DataFrame:
    """Each post against its creator's and its advertiser's other recent posts, as robust z-scores.

    Peers are the other posts of the same creator (any advertiser: it is the creator's audience) or of
    the same advertiser, posted in the `peer_window_days` before `as_of`, with each metric as known at
    `as_of`. Raw counts mostly measure audience size; "better than this creator usually does" is what
    predicts a post that strangers will also stop for. `own` holds the post's own metrics (from
    `engagement_features`).
    """
    window = pd.Timedelta(days=config.peer_window_days)
    own_vals = pd.DataFrame(index=queries.index)
    own_vals["interaction_rate"] = own["interaction_rate"]
    own_vals["share_rate"] = own["share_rate"]
    own_vals["completion_rate"] = own["completion_rate"]
    own_vals["views_at_age_log"] = np.log1p(own[growth_column(peer_views_hours(config))])
    q = pd.DataFrame(
        {
            "_q": np.arange(len(queries)),
            "self_post": queries["post_id"].to_numpy(),
            "as_of": queries["as_of"].astype("datetime64[us]").to_numpy(),
            "creator_id": queries["creator_id"].to_numpy(),
            "advertiser_id": queries["advertiser_id"].to_numpy(),
        }
    )
    p = posts[["post_id", "creator_id", "advertiser_id", "posted_at"]]
    out = pd.DataFrame(index=queries.index)
    for scope in ("creator", "advertiser"):
        key = f"{scope}_id"
        pairs = q[["_q", "self_post", "as_of", key]].merge(p[["post_id", key, "posted_at"]], on=key)
        keep = (
            (pairs["post_id"] != pairs["self_post"])
            & (pairs["posted_at"] <= pairs["as_of"])
            & (pairs["posted_at"] > pairs["as_of"] - window)
        )
        pairs = pairs[keep].reset_index(drop=True)
        vals = _peer_values(pairs, metrics, ages, config)
        for metric in PEER_METRICS:
            v = vals[["_q", metric]].dropna()
            g = v.groupby("_q")[metric]
            median = g.median()
            dev = (v[metric] - v["_q"].map(median)).abs()
            mad = dev.groupby(v["_q"]).median()
            n = g.size()
            idx = np.arange(len(queries))
            z = robust_z(
                pd.Series(own_vals[metric].to_numpy(), index=idx),
                median.reindex(idx),
                mad.reindex(idx),
                n.reindex(idx).fillna(0),
                config.min_peers,
                config.peer_z_clip,
            )
            out[peer_column(metric, scope, config)] = z.to_numpy()
    return out
