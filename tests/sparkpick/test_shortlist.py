"""The one cut of a shortlist: each advertiser's first k by rank."""

from __future__ import annotations

import pandas as pd

from sparkpick.shortlist import top_per_advertiser


def test_keeps_rank_one_to_k_of_each_advertiser_in_order():
    ranked = pd.DataFrame({
        "advertiser_id": ["b", "a", "b", "a", "a", "b"],
        "post_id": ["b3", "a2", "b1", "a1", "a3", "b2"],
        "rank": [3, 2, 1, 1, 3, 2],
    })
    top = top_per_advertiser(ranked, 2)
    assert top["post_id"].tolist() == ["a1", "a2", "b1", "b2"]
    assert top_per_advertiser(ranked, 10)["post_id"].tolist() == ["a1", "a2", "a3", "b1", "b2", "b3"]


def test_an_advertiser_with_fewer_rows_keeps_them_all_and_unranked_frames_pass_through():
    ranked = pd.DataFrame({"advertiser_id": ["a", "b", "b"], "post_id": ["a1", "b1", "b2"], "rank": [1, 1, 2]})
    assert top_per_advertiser(ranked, 2)["post_id"].tolist() == ["a1", "b1", "b2"]
    unranked = pd.DataFrame({"advertiser_id": ["a"], "post_id": ["a1"]})
    assert top_per_advertiser(unranked, 1) is unranked
    assert top_per_advertiser(ranked.iloc[:0], 3).empty
