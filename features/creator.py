"""Creator and relationship features as of T: who posted, on what terms, and how their boosts went.

`queries` has one row per (post, T) with `post_id`, `as_of`, `advertiser_id`, `creator_id`,
`posted_at`; each function returns a frame aligned with its index. The creators table holds current
values only (TikTok gives no follower history), so `creator_followers` is the latest known count.
A partnership counts from its `started_at`; the brand's own account (partnership kind "own" or a brand
account) counts at any time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import uplift_labels
from sparkpick.config import LabelConfig


def _yes(values: pd.Series) -> pd.Series:
    """Booleans (nullable) as 1.0 / 0.0, missing as 0.0 (absent means "no" for these facts)."""
    return values.astype("boolean").fillna(False).astype("float64")


def partnership_at(queries: pd.DataFrame, partnerships: pd.DataFrame) -> pd.DataFrame:
    """The (advertiser, creator) partnership row in force at each query's `as_of` (NaN if none yet)."""
    p = partnerships[["advertiser_id", "creator_id", "kind", "started_at", "usage_rights"]]
    m = queries[["advertiser_id", "creator_id", "as_of"]].merge(
        p, on=["advertiser_id", "creator_id"], how="left"
    )
    m.index = queries.index
    started = (m["kind"] == "own") | (m["started_at"] <= m["as_of"])
    return m.where(started.fillna(False))


def relationship_features(
    queries: pd.DataFrame, creators: pd.DataFrame, partnerships: pd.DataFrame
) -> pd.DataFrame:
    """Followers, own account, partnership kind and age, and Spark usage rights, as of `as_of`.

    - `creator_followers` (accounts): audience size; organic counts scale with it.
    - `own_account` (1/0): the brand's own account; paid audiences discount brand-made content.
    - `partnership_ongoing`, `partnership_one_off` (1/0): ongoing partners build familiarity.
    - `partnership_days` (days since the partnership started; NaN without one).
    - `usage_rights` (1/0): the contract grants Spark usage (own content always does).
    """
    out = pd.DataFrame(index=queries.index)
    c = queries[["creator_id"]].merge(
        creators[["creator_id", "follower_count", "is_brand_account"]], on="creator_id", how="left"
    )
    c.index = queries.index
    part = partnership_at(queries, partnerships)
    own = (part["kind"] == "own").fillna(False).astype("float64")
    out["creator_followers"] = pd.to_numeric(c["follower_count"], errors="coerce").astype("float64")
    out["own_account"] = np.maximum(_yes(c["is_brand_account"]), own)
    out["partnership_ongoing"] = (part["kind"] == "ongoing").fillna(False).astype("float64")
    out["partnership_one_off"] = (part["kind"] == "one_off").fillna(False).astype("float64")
    out["partnership_days"] = ((queries["as_of"] - part["started_at"]) / pd.Timedelta(days=1)).where(
        part["kind"] != "own"
    )
    out["usage_rights"] = np.maximum(_yes(part["usage_rights"]), out["own_account"])
    return out


def familiarity_features(queries: pd.DataFrame, posts: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """How much this creator has posted about this advertiser (familiarity compounds).

    - `creator_prior_posts` (posts): the creator's posts for this advertiser before this one.
    - `creator_recent_posts` (posts): the creator's posts for this advertiser in the `window_days`
      before `as_of`, this one included.
    Only posts with `posted_at <= as_of` count, so later posts change nothing.
    """
    q = pd.DataFrame(
        {
            "_q": np.arange(len(queries)),
            "advertiser_id": queries["advertiser_id"].to_numpy(),
            "creator_id": queries["creator_id"].to_numpy(),
            "as_of": queries["as_of"].astype("datetime64[us]").to_numpy(),
            "self_posted": queries["posted_at"].astype("datetime64[us]").to_numpy(),
        }
    )
    pairs = q.merge(posts[["advertiser_id", "creator_id", "posted_at"]], on=["advertiser_id", "creator_id"])
    prior = pairs["posted_at"] < pairs["self_posted"]
    recent = (pairs["posted_at"] <= pairs["as_of"]) & (
        pairs["posted_at"] > pairs["as_of"] - pd.Timedelta(days=window_days)
    )
    idx = np.arange(len(queries))
    out = pd.DataFrame(index=queries.index)
    out["creator_prior_posts"] = prior.groupby(pairs["_q"]).sum().reindex(idx).fillna(0).to_numpy(float)
    out["creator_recent_posts"] = recent.groupby(pairs["_q"]).sum().reindex(idx).fillna(0).to_numpy(float)
    return out


def spark_history_features(
    queries: pd.DataFrame,
    posts: pd.DataFrame,
    spark_results: pd.DataFrame,
    baselines: pd.DataFrame,
    label: LabelConfig,
) -> pd.DataFrame:
    """The creator's earlier Spark Ads for this advertiser: results ended before `as_of` only.

    - `creator_prior_boosts` (boosts): how many of the creator's posts for this advertiser ran as
      Spark Ads and finished before T.
    - `creator_prior_uplift` (log ratio, the label's unit): their mean uplift label, each computed with
      only the baseline periods that had ended by T; NaN without any. A creator whose boosts beat the
      brand's ads tends to do it again.
    """
    q = pd.DataFrame(
        {
            "_q": np.arange(len(queries)),
            "advertiser_id": queries["advertiser_id"].to_numpy(),
            "creator_id": queries["creator_id"].to_numpy(),
            "as_of": queries["as_of"].astype("datetime64[us]").to_numpy(),
        }
    )
    res = spark_results.merge(posts[["post_id", "advertiser_id", "creator_id"]], on="post_id")
    pairs = q.merge(res, on=["advertiser_id", "creator_id"])
    pairs = pairs[pairs["ended_at"] < pairs["as_of"]].reset_index(drop=True)
    idx = np.arange(len(queries))
    out = pd.DataFrame(index=queries.index)
    out["creator_prior_boosts"] = pairs.groupby("_q").size().reindex(idx).fillna(0).to_numpy(float)
    if pairs.empty:
        out["creator_prior_uplift"] = np.nan
        return out
    labels = uplift_labels(pairs, baselines, posts, label, as_of=pairs["as_of"])
    out["creator_prior_uplift"] = labels.groupby(pairs["_q"]).mean().reindex(idx).to_numpy(float)
    return out
