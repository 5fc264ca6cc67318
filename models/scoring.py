"""Scoring candidates with a served model: scores, calibrated uplift, reasons and ranks per advertiser.

Pure: a candidate frame and a `ScoringModel` in, a scored frame out. Each row is scored on its own
features only, so a duplicate row gets the same score and renaming a creator or a post changes nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.explain import top_reasons
from models.ranker import ScoringModel
from sparkpick.shortlist import top_per_advertiser

ADVERTISER = "advertiser_id"
POST = "post_id"
# Columns of the scored frame, in order; the candidate's other (non-feature) columns follow.
SCORE_COLUMNS = (
    "advertiser_id", "post_id", "rank", "score", "predicted_uplift", "uplift_low", "uplift_high",
    "uplift_ratio", "uplift_ratio_low", "uplift_ratio_high",
)
# Candidate columns the shortlist always carries, even when a column also serves as a feature.
DISPLAY_COLUMNS = (
    "as_of", "creator_handle", "posted_at", "caption", "views", "likes", "comments", "shares",
    "engagement_rate", "video_status", "polish_score", "polish_reasons", "thumbnail_path",
)


def score_frame(
    candidates: pd.DataFrame, model: ScoringModel, descriptions: dict[str, str], n_reasons: int = 3
) -> pd.DataFrame:
    """Every candidate with its score, calibrated uplift and band, reasons and rank within its advertiser.

    `uplift_ratio` = exp(predicted_uplift): how many times cheaper a conversion is expected to come
    through this Spark Ad than through the advertiser's in-feed ads (the label is a log CPA ratio).
    Rank 1 is best; ties go to the smaller post id, so the order never depends on row order.
    """
    if candidates.empty:
        extra = [c for c in candidates.columns if c not in model.feature_names and c not in SCORE_COLUMNS]
        reasons = [f"reason_{i + 1}" for i in range(n_reasons)]
        return pd.DataFrame(columns=[*SCORE_COLUMNS, *reasons, *extra])
    frame = candidates.reset_index(drop=True)
    predicted = model.predict(frame)
    reasons = top_reasons(model.contributions(frame), frame, descriptions, n_reasons)
    out = pd.concat([frame[[ADVERTISER, POST]], predicted, reasons], axis=1)
    for suffix in ("", "_low", "_high"):
        source = "predicted_uplift" if not suffix else f"uplift{suffix}"
        out[f"uplift_ratio{suffix}"] = np.exp(out[source])
    order = out.sort_values([ADVERTISER, "score", POST], ascending=[True, False, True], kind="stable")
    out.loc[order.index, "rank"] = order.groupby(ADVERTISER, sort=False).cumcount().to_numpy() + 1
    out["rank"] = out["rank"].astype(int)
    dropped = [
        c for c in frame.columns
        if c in out.columns or (c in model.feature_names and c not in DISPLAY_COLUMNS)
    ]
    extra = frame.drop(columns=dropped)
    scored = pd.concat([out, extra], axis=1)
    columns = [*SCORE_COLUMNS, *reasons.columns]
    scored = scored[columns + [c for c in scored.columns if c not in columns]]
    return scored.sort_values([ADVERTISER, "rank"], kind="stable").reset_index(drop=True)


def shortlist(scored: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The top `top_k` rows of each advertiser."""
    return top_per_advertiser(scored, top_k)
