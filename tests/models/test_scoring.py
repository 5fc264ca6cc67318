"""Scoring behaviour: invariance to names, duplicates, ranks, and reasons in plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.explain import format_value, reason_text, shap_summary, top_reasons
from models.scoring import score_frame, shortlist
from models.training import fit_models
from sparkpick.config import Settings, with_overrides
from tests.models.conftest import DESCRIPTIONS, FEATURES

FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 100, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 20}}


@pytest.fixture(scope="module")
def fitted(settings: Settings):
    from tests.models.conftest import make_boosts

    return fit_models(make_boosts(seed=21), FEATURES, with_overrides(settings, FAST).ranker, "test-v1")


@pytest.fixture
def candidates(fitted) -> pd.DataFrame:
    frame = fitted.valid.drop(columns=["uplift", "relevance", "expected_uplift"]).copy()
    frame["flag_no_auth_code"] = frame.index % 2 == 0
    frame["caption"] = "so good #fyp"
    return frame.reset_index(drop=True)


def test_scores_ranks_and_carried_columns(fitted, candidates: pd.DataFrame) -> None:
    scored = score_frame(candidates, fitted.scoring_model, DESCRIPTIONS)
    assert len(scored) == len(candidates)
    assert {"flag_no_auth_code", "caption", "creator_handle", "reason_3"} <= set(scored.columns)
    assert "video_hook" not in scored.columns  # features are inputs, not shortlist columns
    for _, group in scored.groupby("advertiser_id"):
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing
    assert np.allclose(scored["uplift_ratio"], np.exp(scored["predicted_uplift"]))
    top = shortlist(scored, 3)
    assert top.groupby("advertiser_id").size().max() == 3
    # the model's picks carry a higher realised uplift than the advertiser's average candidate
    truth = fitted.valid.set_index("post_id")["expected_uplift"]
    assert truth.loc[top["post_id"]].mean() > truth.mean() + 0.3


def test_renaming_a_creator_or_post_changes_no_score(fitted, candidates: pd.DataFrame) -> None:
    before = score_frame(candidates, fitted.scoring_model, DESCRIPTIONS)
    renamed = candidates.copy()
    renamed["creator_handle"] = "@someone_else_" + renamed.index.astype(str)
    renamed["post_id"] = "x" + renamed["post_id"]
    after = score_frame(renamed, fitted.scoring_model, DESCRIPTIONS)
    by_old = before.set_index("post_id")["score"]
    by_new = after.assign(post_id=after["post_id"].str[1:]).set_index("post_id")["score"]
    assert np.array_equal(by_old.sort_index().to_numpy(), by_new.sort_index().to_numpy())
    assert list(before["rank"]) == list(after["rank"])


def test_a_duplicate_row_gets_the_same_score(fitted, candidates: pd.DataFrame) -> None:
    doubled = pd.concat([candidates, candidates.iloc[[4]]], ignore_index=True)
    scored = score_frame(doubled, fitted.scoring_model, DESCRIPTIONS)
    twins = scored[scored["post_id"] == candidates.loc[4, "post_id"]]
    assert len(twins) == 2 and twins["score"].nunique() == 1
    assert twins["predicted_uplift"].nunique() == 1 and twins["reason_1"].nunique() == 1
    # and the other rows' scores are untouched by the duplicate
    alone = score_frame(candidates, fitted.scoring_model, DESCRIPTIONS).set_index("post_id")["score"]
    assert np.allclose(scored.drop_duplicates("post_id").set_index("post_id")["score"].loc[alone.index], alone)


def test_reasons_are_plain_words_from_treeshap(fitted, candidates: pd.DataFrame) -> None:
    model = fitted.scoring_model
    contrib = model.contributions(candidates)
    reasons = top_reasons(contrib, candidates, DESCRIPTIONS, 3)
    best = int(np.argmax(model.scores(candidates)))
    first = reasons.iloc[best]["reason_1"]
    top_feature = contrib.drop(columns="bias").iloc[best].idxmax()
    assert first.startswith(DESCRIPTIONS.get(top_feature, top_feature.replace("_", " ")))
    assert first.endswith("(helps)")
    # the hook is the planted strongest driver: it leads the SHAP summary
    assert shap_summary(contrib).index[0] in {"video_hook", "video_polish_score"}


def test_format_and_reason_text() -> None:
    assert format_value(12345.0) == "12,345"
    assert format_value(0.04213) == "0.042"
    assert format_value(float("nan")) == "unknown"
    assert format_value(True) == "yes"
    text = reason_text("share_rate", 0.05, -0.2, {"share_rate": "shares per view."})
    assert text == "shares per view: 5.0% (holds it back)"


def test_reasons_say_where_a_value_stands_in_plain_words() -> None:
    from models.explain import describe, standing

    assert standing(0.97) == "top 3% of candidates"
    assert standing(0.04) == "bottom 4% of candidates"
    assert standing(0.5) == "higher than 50% of candidates"
    assert describe("video_noise", {"video_noise": "grain: Immerkaer noise sigma (8-bit levels)"}) == "sensor grain (phone footage)"
    assert describe("x", {"x": "shares per view (ratio)"}) == "shares per view"
    contrib = pd.DataFrame({"share_rate": [0.3, -0.1, 0.0], "own_account": [0.0, 0.2, 0.0], "bias": [0.0] * 3})
    values = pd.DataFrame({"share_rate": [0.09, 0.01, 0.02], "own_account": [0.0, 1.0, 0.0]})
    reasons = top_reasons(contrib, values, {"share_rate": "shares per view", "own_account": "brand's own account"}, 2)
    assert reasons.loc[0, "reason_1"] == "shares per view: 9.0%, top 1% of candidates (helps)"
    assert reasons.loc[1, "reason_1"] == "brand's own account: yes (helps)"
    assert reasons.loc[1, "reason_2"].endswith("(holds it back)")
