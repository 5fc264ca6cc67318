"""The shortlist's cut: each advertiser's first `k` candidates by rank (the scorer, the night and the report
all cut the same way)."""

from __future__ import annotations

import pandas as pd


def top_per_advertiser(ranked: pd.DataFrame, k: int) -> pd.DataFrame:
    """The rows of rank 1 to `k` of each advertiser, ordered by advertiser then rank (a frame without
    ranks, or an empty one, is returned as it is). A post the policy left out (a `status` such as a live
    or earlier boost: models/policy.py) never takes a slot."""
    if ranked.empty or "rank" not in ranked.columns:
        return ranked
    if "status" in ranked.columns:
        ranked = ranked[ranked["status"].fillna("").astype(str) == ""]
    ordered = ranked.sort_values(["advertiser_id", "rank"], kind="stable")
    return ordered.groupby("advertiser_id", sort=False).head(k).reset_index(drop=True)
