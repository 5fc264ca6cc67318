"""The promotion gate (pure): which alias a new version gets, and the reason in words."""

from __future__ import annotations

import math

import pytest

from models.promotion import CHALLENGER, CHAMPION, PromotionDecision, decide_promotion
from sparkpick.errors import InputError


@pytest.mark.parametrize(
    ("mode", "new", "old", "version", "alias"),
    [
        ("auto", 0.5, None, None, "champion"),       # first model
        ("auto", 0.6, 0.5, "1", "champion"),         # better
        ("auto", 0.4, 0.5, "1", "challenger"),       # worse
        ("auto", 0.5, 0.5, "1", "challenger"),       # a tie does not displace the champion
        ("never", 0.9, 0.1, "1", "challenger"),
        ("force", 0.1, 0.9, "1", "champion"),
    ],
)
def test_decide_promotion(mode: str, new: float, old: float | None, version: str | None, alias: str) -> None:
    decision = promotion_of(mode, new, old, version)
    assert decision.alias == alias
    assert decision.reason
    if alias == "challenger" and mode == "auto":
        assert f"{old:.3f}" in decision.reason and f"{new:.3f}" in decision.reason


def promotion_of(mode: str, new: float, old: float | None, version: str | None) -> PromotionDecision:
    return decide_promotion(mode, "captured_at_k", new, old, version)


def test_decide_promotion_rejects_unknown_mode() -> None:
    with pytest.raises(InputError, match="--promote"):
        decide_promotion("sometimes", "captured_at_k", 0.5, None, None)


def test_a_champion_that_cannot_be_evaluated_is_replaced_and_the_reason_says_why() -> None:
    decision = decide_promotion("auto", "captured_at_k", 0.1, None, "3", champion_problem="another feature version")
    assert decision.alias == CHAMPION and "v3" in decision.reason and "another feature version" in decision.reason


def test_no_unseen_decisions_keeps_the_champion_and_names_the_cut_off() -> None:
    decision = decide_promotion("auto", "captured_at_k", 0.9, 0.1, "2", decisions=0, since="2026-05-01")
    assert decision.alias == CHALLENGER and "2026-05-01" in decision.reason and "no fair comparison" in decision.reason


def test_a_champion_without_a_figure_is_replaced_a_new_model_without_one_is_not() -> None:
    assert decide_promotion("auto", "ndcg_at_k", 0.4, math.nan, "2").alias == CHAMPION
    assert decide_promotion("auto", "ndcg_at_k", 0.4, None, "2").alias == CHAMPION
    kept = decide_promotion("auto", "ndcg_at_k", math.nan, 0.4, "2")
    assert kept.alias == CHALLENGER and kept.champion_value == 0.4
    assert "ndcg_at_k" in kept.reason
