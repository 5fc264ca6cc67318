"""Off-policy evidence around the promotion gate: the propensities counted, their nights, the hand-over."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.policy_evidence import OffPolicyEvidence, handover_decision, propensity_counts, with_propensity_nights
from models.prior import prior_model
from models.promotion import CHALLENGER, CHAMPION, PromotionDecision
from models.serving import ServedModel
from sparkpick.config import Settings


def test_propensities_are_counted_by_where_they_came_from_and_bad_ones_as_none() -> None:
    rows = pd.DataFrame({
        "boost_propensity": [0.5, 1.0, 0.2, 0.0, np.nan, "x", 1.5],
        "propensity_as_of": [pd.Timestamp("2026-05-01"), None, None, None, None, None, None],
    })
    assert propensity_counts(rows) == {"from_scores": 1, "from_data": 2, "none": 4}
    assert propensity_counts(pd.DataFrame(index=range(3))) == {"from_scores": 0, "from_data": 0, "none": 3}


def test_each_training_row_gets_the_night_its_propensity_was_scored() -> None:
    boosted = pd.Timestamp("2026-05-02 10:00")
    rows = pd.DataFrame({"post_id": ["a", "b"], "boosted_at": [boosted, boosted], "uplift": [0.1, 0.2]})
    results = pd.DataFrame({"post_id": ["a", "a", "b"], "boosted_at": [boosted] * 3,
                            "propensity_as_of": [pd.Timestamp("2026-05-01"), pd.Timestamp("2026-04-30"), pd.NaT]})
    out = with_propensity_nights(rows, results)
    assert len(out) == 2 and out["uplift"].tolist() == [0.1, 0.2]  # a repeated result adds no row
    assert out["propensity_as_of"].iloc[0] == pd.Timestamp("2026-05-01") and pd.isna(out["propensity_as_of"].iloc[1])
    assert with_propensity_nights(rows, results.drop(columns="propensity_as_of")) is rows


def test_without_enough_logged_boosts_the_validation_gate_decides_and_says_so(settings: Settings) -> None:
    champion = ServedModel(prior_model(settings.prior, "v1"), "models:/m/1", "m", "1", "run")
    fallback = PromotionDecision(CHAMPION, "beats champion v1", 0.3)
    none = handover_decision(OffPolicyEvidence(None, {}), fallback, champion, settings)
    assert none.alias == CHAMPION and none.champion_value == 0.3
    assert none.reason.startswith("beats champion v1 (no logged boosts") and "validation gate decided" in none.reason
    few = handover_decision(OffPolicyEvidence(None, {}, n_logged=3), PromotionDecision(CHALLENGER, "kept"),
                            champion, settings)
    assert few.alias == CHALLENGER
    assert "only 3 logged boosts" in few.reason and str(settings.policy.handover_min_logged) in few.reason
