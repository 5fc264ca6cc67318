"""What the boosts before a decision time say for scoring: which posts were boosted (live or finished, with
the realised uplift the shortlist policy reads) and how many boosts each advertiser has seen finish."""

from __future__ import annotations

import pandas as pd

from features.labels import uplift_labels
from models.policy import boost_history
from sparkpick.config import Settings


def _naive(as_of: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_localize(None) if ts.tzinfo else ts


def boost_history_at(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Posts boosted by `as_of` (live or finished, with the last finished boost's realised uplift, computed
    with the baselines known at `as_of`): `models.policy.boost_history` over the contract tables."""
    results = tables.get("spark_results")
    if results is None or results.empty:
        return pd.DataFrame(columns=["post_id", "live", "realised_uplift"])
    naive = _naive(as_of)
    results = results.reset_index(drop=True)
    realised = uplift_labels(results, tables["baselines"], tables["posts"], settings.label,
                             as_of=pd.Series(naive, index=results.index))
    return boost_history(results, tables.get("spark_hourly"), naive, realised)


def finished_boosts(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.Series:
    """Spark Ads that ended by `as_of`, counted per advertiser (indexed by advertiser_id)."""
    results, posts = tables.get("spark_results"), tables.get("posts")
    if results is None or posts is None or results.empty:
        return pd.Series(dtype="int64")
    ended = results[pd.to_datetime(results["ended_at"]) <= _naive(as_of)]
    owner = ended["post_id"].map(posts.drop_duplicates("post_id").set_index("post_id")["advertiser_id"])
    return owner.value_counts()
