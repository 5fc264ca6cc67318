"""The words a marketer reads: one convention for costs ("2.3x your in-feed cost") and money (the advertiser's
currency), in the shortlist's sentences, the live boosts' reasons, the track record and the terminal rows."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparkpick.vocabulary import ActionStatus, UnknownTermError
from sparkpick.wording import (
    AWAITING_APPROVAL,
    TEST_PICK_SENTENCE,
    UNKNOWN_CURRENCY_NOTE,
    LiveFacts,
    action_sentence,
    actions_stopped_sentence,
    approval_badge,
    approval_field_texts,
    approved_budget_note,
    at_cap_sentence,
    band_sentence,
    boost_again_sentence,
    budget_changed_since_sentence,
    cost_phrase,
    cost_range_phrase,
    coverage_shortfall_sentence,
    currency_note,
    line_of_test_picks,
    live_reason,
    log_cost_phrase,
    money,
    night_counts_line,
    over_cap_sentence,
    rank_shortfall_sentence,
    ratio_band,
    ratio_phrase,
    ratio_range_phrase,
    recommendations_sentence,
    too_little_spend_sentence,
    top_picks_table,
    track_record_sentence,
    uplift_sentence,
)

# Any ratio word other than the convention's: "1.8x cheaper", "2x more expensive", "dearer".
OTHER_CONVENTION = re.compile(r"\d(\.\d+)?x (cheaper|more expensive|dearer)|dearer|about the same cost")


# -- the conventions -------------------------------------------------------------------------------------
def test_costs_in_one_convention() -> None:
    assert cost_phrase(2.31) == "2.3x your in-feed cost"
    assert cost_phrase(0.62) == "0.62x your in-feed cost"
    assert cost_phrase(1.03) == "about your in-feed cost"
    assert cost_phrase(float("nan")) == cost_phrase(0) == "not comparable with your in-feed cost"


def test_every_ratio_reads_as_a_share_of_the_in_feed_cost() -> None:
    # An uplift ratio (in-feed CPA / Spark CPA), its log and the cost ratio itself say the same thing.
    for uplift_ratio in (0.25, 0.5, 0.8, 0.97, 1.0, 1.3, 1.8, 4.0):
        words = ratio_phrase(uplift_ratio)
        assert words == cost_phrase(1 / uplift_ratio) == log_cost_phrase(math.log(uplift_ratio))
        assert "your in-feed cost" in words
    assert ratio_phrase(1.8) == "0.56x your in-feed cost" and ratio_phrase(0.5) == "2.0x your in-feed cost"
    assert ratio_phrase(None) == ratio_phrase(float("nan")) == ratio_phrase(0) == log_cost_phrase(None) == "no estimate"


def test_ranges_read_cheapest_first_whichever_way_they_come() -> None:
    assert ratio_range_phrase(1.2, 2.4) == ratio_range_phrase(2.4, 1.2) == "0.42x to 0.83x your in-feed cost"
    assert cost_range_phrase(math.log(2.4), math.log(1.2), unit=False) == "0.42x to 0.83x"
    assert ratio_range_phrase(None, 2.0) == ratio_range_phrase(0, 2.0) == ""


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [(180.4, "USD", "$180"), (9.5, "EUR", "€9.50"), (4200, "JPY", "4,200 JPY"), (1234.5, "GBP", "£1,234"),
     (None, "USD", "–"), (float("nan"), "EUR", "–"), (1234, None, "1,234")],
)
def test_money_in_the_advertisers_currency(amount: float | None, currency: str | None, expected: str) -> None:
    assert money(amount, currency) == expected


# -- the shortlist's words --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(1.8, "Each conversion should cost about 0.56x your in-feed cost."),
     (0.5, "Each conversion should cost about 2.0x your in-feed cost."),
     (1.01, "Each conversion should cost about your in-feed cost."),
     (float("nan"), "No uplift estimate for this post."),
     (None, "No uplift estimate for this post.")],
)
def test_uplift_sentence_is_honest_both_ways(ratio: float | None, expected: str) -> None:
    assert uplift_sentence(ratio) == expected


def test_band_sentence_says_when_it_could_go_either_way() -> None:
    assert band_sentence(1.2, 2.4) == "Likely range: 0.42x to 0.83x your in-feed cost."
    assert band_sentence(0.8, 1.5) == "Likely range: 0.67x to 1.2x your in-feed cost: it could go either way."
    assert band_sentence(None, 2.0) == ""


def test_band_from_log_scale_when_no_ratio_band() -> None:
    row = {"uplift_low": np.log(1.2), "uplift_high": np.log(2.4)}
    assert band_sentence(*ratio_band(row)) == "Likely range: 0.42x to 0.83x your in-feed cost."
    assert ratio_band({"uplift_ratio_low": 0.9, "uplift_ratio_high": 1.4, **row}) == (0.9, 1.4)


def test_boost_again_puts_the_last_result_beside_the_prediction() -> None:
    assert boost_again_sentence({"realised_uplift": math.log(2.0), "uplift_ratio": 1.6}) == (
        "Boost again: its last Spark Ad came at 0.50x your in-feed cost; predicted now: 0.62x your in-feed cost.")


def test_top_picks_read_in_the_convention_and_show_a_missing_handle_as_nothing() -> None:
    shortlist = pd.DataFrame({"advertiser_id": "a1", "post_id": ["p1", "p2", "p3"], "rank": [1, 2, 3],
                              "creator_handle": [np.nan, "@ann", "bob"], "uplift_ratio": [2.0, 1.0, 0.5],
                              "reason_1": "why"})
    rows = top_picks_table(shortlist, per_advertiser=3)
    assert [r["creator"] for r in rows] == ["", "@ann", "@bob"]
    assert [r["uplift"] for r in rows] == ["0.50x your in-feed cost", "about your in-feed cost",
                                           "2.0x your in-feed cost"]


# -- live boosts -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "expected"),
    [(None, ""),
     ({"window_days": 60, "count": 0}, "Last 60 days: no finished boost had a prediction from before it started."),
     ({"window_days": 60, "count": 31, "predicted_mean": np.log(2.4), "realised_mean": np.log(2.1), "coverage": 0.77},
      "Last 60 days: predicted 0.42x your in-feed cost on average, realised 0.48x your in-feed cost; 77% inside the "
      "predicted range (31 finished boosts)."),
     ({"window_days": 30, "count": 1, "predicted_mean": 0.0, "realised_mean": math.log(0.5), "coverage": 1.0},
      "Last 30 days: predicted about your in-feed cost on average, realised 2.0x your in-feed cost; 100% inside the "
      "predicted range (1 finished boost).")],
)
def test_track_record_sentence(record: dict | None, expected: str) -> None:
    assert track_record_sentence(record) == expected


BASE = LiveFacts(decision="pause", why="money", hours=40, spend=300.0, conversions=3, currency="USD",  # type: ignore[arg-type]
                 baseline_cpa=40.0, estimate=-math.log(2.3), low=-math.log(3.1), high=-math.log(1.6),
                 prob_dearer=0.97, stake=400.0, stake_hours=72, saving=180.0,
                 calibration="this advertiser's 34 good finished boosts")


def facts(**over: object) -> LiveFacts:
    return LiveFacts(**{**BASE.__dict__, **over})


def test_live_reasons_say_what_a_decision_is_worth() -> None:
    pause = live_reason(BASE)
    assert "40 h in, 3 conversions for $300: 2.5x your in-feed cost so far" in pause
    assert "pausing now saves about $180 of the next $400 (3 days at this pace) at 2.3x your in-feed cost" in pause
    assert "calibrated on this advertiser's 34 good finished boosts" in pause and pause.endswith(": pause")
    assert "proven more expensive" not in pause
    assert "proven more expensive (an anytime-valid test" in live_reason(facts(proven_dearer=True))
    keep = live_reason(facts(decision="keep", why="keep", prob_dearer=0.6, hint_spend=120.0, hint_conversions=1))
    assert "60% likely more expensive; pause if the next $120 brings fewer than 2 conversions" in keep
    assert keep.endswith(": keep")
    scale = live_reason(facts(decision="scale", why="scale", prob_dearer=0.001, budget_step=0.2, daily_spend=150.0))
    assert "over 99% sure it is cheaper" in scale and "add budget, 20% more a day (about $30 on $150 a day)" in scale
    one = live_reason(facts(conversions=1, pending=1.2))
    assert "1 conversion for $300" in one and "about 1 conversion from this spend is usually reported later" in one


def test_live_reasons_keep_to_the_convention_in_every_case() -> None:
    cases = [facts(), facts(proven_dearer=True), facts(why="proven", calibration=""),
             facts(decision="keep", why="keep", prob_dearer=0.7), facts(decision="keep", why="keep", prob_dearer=0.2),
             facts(decision="keep", why="keep", calibration=""), facts(decision="keep", why="no_norms"),
             facts(decision="scale", why="scale", prob_dearer=0.01, proven_cheaper=True),
             facts(decision="too_early", why="little_spend"), facts(decision="too_early", why="no_baseline"),
             facts(decision="too_early", why="learning", currency="EUR")]
    for f in cases:
        text = live_reason(f)
        assert not OTHER_CONVENTION.search(text), text
        # every amount carries the advertiser's currency
        assert not re.search(r"(for|pay|the next|saves about) \d", text), text


# -- acting on the account -------------------------------------------------------------------------------
def test_actions_in_sentences() -> None:
    assert action_sentence("launch", "p1", "launched", "approved by ann", ad_id="456") == (
        "Post p1: launch - launched (ad 456). approved by ann")
    assert action_sentence("pause", "p2", "planned", ad_id="<planned>") == "Post p2: pause - planned, not sent"
    assert actions_stopped_sentence("adv-1", "the kill switch is on") == (
        "Actions stopped for advertiser adv-1: the kill switch is on")
    assert recommendations_sentence(3) == "3 decision(s) left as recommendations (actions.modes: recommend)"
    assert approval_field_texts("adv-1", 2, "p9") == ("Launch advertiser adv-1, pick #2, post p9",
                                                      "Daily budget for advertiser adv-1, pick #2, post p9")


def test_money_to_the_cent_and_the_unknown_currency_note() -> None:
    assert money(120.01, "USD", exact=True) == "$120.01" and money(1234, None, exact=True) == "1,234.00"
    assert currency_note(None) == currency_note("") == currency_note(" ") == UNKNOWN_CURRENCY_NOTE
    assert currency_note("JPY") == ""


def test_the_guardrails_refuse_in_the_one_money_convention() -> None:
    assert over_cap_sentence(130.5, 120, 100) == (
        "it would take the daily Spark budget to 130.50, above the cap of 120.00 "
        "(actions.advertisers.<id>.daily_budget_cap; 100.00 in use)")
    assert "cap of $120.00 ($119.99 in use;" in at_cap_sentence(120, 119.99, "USD")
    assert too_little_spend_sentence(4.5, 25, "EUR") == (
        "it has spent €4.50, less than the €25.00 needed before any pause (actions.min_spend_before_pause)")


def test_an_undo_refused_and_an_approved_budget_in_the_money_convention() -> None:
    assert budget_changed_since_sentence("ag1", 60, 57.5) == (
        "ad group ag1's budget is now 60.00, not the 57.50 this action set: changed since, not undone")
    assert "is now unreadable, not the $57.50" in budget_changed_since_sentence("ag1", None, 57.5, "USD")
    assert approved_budget_note(30) == "daily budget 30.00" and approved_budget_note(1250, "EUR") == "daily budget €1,250.00"


def test_the_approval_badge() -> None:
    assert approval_badge("launched") == "launched" and approval_badge(ActionStatus.WAITING) == "waiting"
    assert approval_badge("refused", "code expired") == "refused: code expired"
    assert approval_badge("refused", "") == "refused"
    assert AWAITING_APPROVAL == "awaiting approval"
    with pytest.raises(UnknownTermError):
        approval_badge("lunched")


def test_why_retraining_is_due() -> None:
    assert coverage_shortfall_sentence(0.52, 31, 0.8) == (
        "only 52% of the last 31 boosts landed inside the predicted range, where validation promised 80%")
    assert "the last 12 boosts in a clearly worse order" in rank_shortfall_sentence(12)


# -- the terminal's night summary -------------------------------------------------------------------------
def test_the_nights_summary_lines() -> None:
    assert night_counts_line(412, 15, 1) == "412 candidates considered, 15 shortlisted, 1 failure(s) listed in the report."
    assert line_of_test_picks(2) == f"2 test pick(s). {TEST_PICK_SENTENCE}"


# -- one home for the words ---------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
# Ratio words of another convention, and comparisons the convention does not use.
OTHER_WORDS = re.compile(r"x (?:cheaper|more expensive|dearer)\b|\bdearer\b|about the same cost", re.IGNORECASE)


def text_outside_docstrings(source: str) -> list[str]:
    """The string constants of a module (f-strings' literal parts included), docstrings and comments left out."""
    tree = ast.parse(source)
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_the_scan_can_fail() -> None:
    assert [t for t in text_outside_docstrings('"""dearer is fine here"""\nx = f"{r:.1f}x cheaper"\n')
            if OTHER_WORDS.search(t)] == ["x cheaper"]


def test_no_module_builds_costs_in_other_words() -> None:
    found = []
    for package in ("sparkpick", "models", "features", "flows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found += [f"{path.relative_to(ROOT)}: {t!r}" for t in text_outside_docstrings(path.read_text("utf-8"))
                      if OTHER_WORDS.search(t)]
    for template in sorted((ROOT / "sparkpick" / "templates").iterdir()):
        found += [f"{template.name}: {m.group(0)!r}" for m in OTHER_WORDS.finditer(template.read_text("utf-8"))]
    assert not found, found


# Modules that handle the ad account's money: their amounts go through `money` (sparkpick/wording), never
# a format of their own ("{budget:.2f}", "{spend:,.0f}").
MONEY_MODULES = ("sparkpick/guardrails.py", "sparkpick/sources/tiktok/actions", "flows/approval.py",
                 "flows/actions.py", "models/track_record.py")
OWN_MONEY_FORMAT = re.compile(r"\.2f|,")


def own_money_formats(source: str) -> list[str]:
    """The format specs of a module's f-string fields that write an amount their own way."""
    specs = ["".join(str(getattr(part, "value", "")) for part in node.format_spec.values)
             for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FormattedValue) and node.format_spec]
    return [spec for spec in specs if OWN_MONEY_FORMAT.search(spec)]


def test_the_money_scan_can_fail() -> None:
    assert own_money_formats('x = f"daily budget {budget:.2f}, {n:.0%} {spend:,.0f}"') == [".2f", ",.0f"]


def test_modules_that_handle_money_write_it_in_the_one_convention() -> None:
    paths = [p for name in MONEY_MODULES for p in ([ROOT / name] if name.endswith(".py")
                                                   else sorted((ROOT / name).rglob("*.py")))]
    found = [f"{p.relative_to(ROOT)}: {spec!r}" for p in paths for spec in own_money_formats(p.read_text("utf-8"))]
    assert len(paths) > 5 and not found, found
