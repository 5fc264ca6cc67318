"""The shortlist in a marketer's words: the uplift and its band, the flags, what ranked it, what was
left out, and the rows a terminal or a Prefect table shows."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sparkpick.contract import as_utc
from sparkpick.shortlist import top_per_advertiser
from sparkpick.vocabulary import Flag, require_words
from sparkpick.wording.conventions import (
    SAME_COST_BAND,
    as_number,
    as_text,
    log_cost_phrase,
    ratio_phrase,
    ratio_range_phrase,
)

# Each flag in a marketer's words: (short label, what to do or know; {days} and {hours} are the settings'
# windows, see `flag_help`). Every flag has its words.
FLAG_WORDS: dict[Flag, tuple[str, str]] = require_words(Flag, {
    Flag.NO_AUTH_CODE: ("No auth code", "No Spark authorisation code yet: ask the creator for one."),
    Flag.AUTH_EXPIRING: ("Code expiring", "The authorisation code expires within {days} days, too soon to carry a "
                                          "boost: ask the creator to renew it."),
    Flag.NO_USAGE_RIGHTS: ("No usage rights", "No Spark usage rights on file in the creator's contract."),
    Flag.CALIBRATING: ("Calibrating", "Under {hours} hours of data: the numbers are not stable yet."),
    Flag.LOOKS_LIKE_AD: (
        "Looks like an ad", "High polish: paid audiences tend to swipe past content that looks like an ad."
    ),
})


def flag_label(flag: Any) -> str:
    """The flag's short label ("No auth code"); `flag` is its name or its column."""
    return FLAG_WORDS[Flag.of(flag)][0]


def flag_help(flag: Any, auth_expiry_days: int, calibration_hours: float) -> str:
    """What the flag asks of the marketer, with the settings' windows in it."""
    return FLAG_WORDS[Flag.of(flag)][1].format(days=auth_expiry_days, hours=f"{calibration_hours:g}")


# A night whose as-of time is further than this from when it ran says so (a backfill, a demo world, a typo).
FAR_FROM_NOW_HOURS = 24.0


def uplift_sentence(ratio: float | None) -> str:
    """The predicted uplift as one sentence, honest when the post is expected to cost more: "Each conversion
    should cost about 0.56x your in-feed cost." """
    r = as_number(ratio)
    if r is None or r <= 0:
        return "No uplift estimate for this post."
    return f"Each conversion should cost about {ratio_phrase(r).removeprefix('about ')}."


def band_sentence(low: float | None, high: float | None) -> str:
    """The confidence band in the same words ("Likely range: 0.42x to 0.83x your in-feed cost."), saying
    when it could go either way; "" when the model gave none."""
    lo, hi = as_number(low), as_number(high)
    if lo is None or hi is None or lo <= 0 or hi <= 0:
        return ""
    band = ratio_range_phrase(lo, hi)
    if min(lo, hi) >= 1 - SAME_COST_BAND or max(lo, hi) <= 1 + SAME_COST_BAND:
        return f"Likely range: {band}."
    return f"Likely range: {band}: it could go either way."


def ratio_band(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The confidence band as cost ratios: `uplift_ratio_low/high`, else exp of the log-scale
    `uplift_low/high` (the uplift label is a log CPA ratio)."""
    low, high = as_number(row.get("uplift_ratio_low")), as_number(row.get("uplift_ratio_high"))
    if low is not None and high is not None:
        return low, high
    low, high = as_number(row.get("uplift_low")), as_number(row.get("uplift_high"))
    if low is not None and high is not None:
        return math.exp(low), math.exp(high)
    return None, None


def far_from_now_sentence(as_of: Any, ran_at: Any) -> str:
    """"This night is as of ..., 250 days before it ran ..." when the as-of time is more than
    `FAR_FROM_NOW_HOURS` from the run's time (both naive UTC or aware), else ""."""
    if as_of is None or ran_at is None or pd.isna(as_of) or pd.isna(ran_at):
        return ""
    when, ran = as_utc(as_of), as_utc(ran_at)
    hours = (ran - when).total_seconds() / 3600
    if abs(hours) <= FAR_FROM_NOW_HOURS:
        return ""
    size = abs(hours)
    span = f"{size:.0f} hours" if size < 48 else f"{size / 24:.0f} days"
    side = "before" if hours > 0 else "after"
    return (f"This night is as of {when:%Y-%m-%d %H:%M} UTC, {span} {side} it ran ({ran:%Y-%m-%d %H:%M} UTC): "
            "its shortlist and live boosts are what was known at that time, not now.")


# The shortlist's policy in a marketer's words (models/policy.py, models/prior.py).
PRIOR_LABEL = "no Spark Ads results yet: ranked by the brief's rules"
PRIOR_BAND_NOTE = ("The cost column is not an estimate yet: until your own Spark Ads have results, any post "
                   "could come out far more expensive or far cheaper than your in-feed ads.")
TEST_PICK_SENTENCE = "A test: posts like this are rarely boosted, and its result teaches the model."
TEST_PICK_LABEL = "test"


def ranking_label(model_kind: Any) -> str:
    """What ranked the shortlist, in words: the prior's label, or "" for a trained ranker."""
    return PRIOR_LABEL if str(model_kind or "") == "prior" else ""


def ranking_headline(model_kind: Any, boosts_known: int = 0) -> str:
    """The label as a sentence of its own ("No Spark Ads results yet: ...."), or "". When Spark Ad results
    exist but no trained ranker has proved better than the brief's rules yet, it says that instead."""
    label = ranking_label(model_kind)
    if label and boosts_known > 0:
        results = "result" if boosts_known == 1 else "results"
        return (f"Ranked by the brief's rules: no trained model has yet proved better on your {boosts_known} "
                f"Spark Ads {results}.")
    return f"{label[:1].upper()}{label[1:]}." if label else ""


def boosts_known(frame: pd.DataFrame) -> int:
    """Finished Spark Ads known for the advertisers of a scored frame (`boosts_known`, one per advertiser)."""
    if "boosts_known" not in frame.columns or frame.empty:
        return 0
    return int(pd.to_numeric(frame.groupby("advertiser_id")["boosts_known"].first(), errors="coerce").fillna(0).sum())


def left_out_sentence(others: pd.DataFrame | None) -> str:
    """How many posts the shortlist left out because of their boosts, and why ("" when none)."""
    if others is None or others.empty or "status" not in others.columns:
        return ""
    live = int((others["status"] == "live").sum())
    before = int((others["status"] == "boosted_before").sum())
    blocked = int((others["status"] == "blocked").sum())
    parts = []
    if live:
        parts.append(f"{live} {'post is' if live == 1 else 'posts are'} being boosted right now")
    if before:
        parts.append(f"{before} {'was' if before == 1 else 'were'} boosted before and take no fresh slot")
    if blocked:
        parts.append(f"{blocked} cannot be boosted yet (no code, a code about to lapse, no usage rights, "
                     "looks like an ad or numbers not settled)")
    if not parts:
        return ""
    return f"Left out of the shortlist: {', '.join(parts[:-1]) + ' and ' if len(parts) > 1 else ''}{parts[-1]}."


# What frees a post that a flag holds back, in the order they are asked (every flag blocks: `Flag.blocks`).
HELD_BACK_NEEDS: dict[Flag, str] = require_words(Flag, {
    Flag.NO_AUTH_CODE: "ask the creator for a Spark authorisation code",
    Flag.AUTH_EXPIRING: "ask the creator to renew the authorisation code, which lapses within the week",
    Flag.NO_USAGE_RIGHTS: "agree Spark usage rights with the creator",
    Flag.CALIBRATING: "wait until its numbers settle",
    Flag.LOOKS_LIKE_AD: "it looks like an ad, and paid audiences tend to swipe past those",
})


def held_back_sentence(row: Mapping[str, Any]) -> str:
    """A promising post that cannot be boosted yet (`held_back`): what would free it, beside tonight's
    prediction."""
    needs = [text for flag, text in HELD_BACK_NEEDS.items() if row.get(flag.column) in (True, 1)]
    need = "; ".join(needs) or "it cannot be boosted yet"
    predicted = ratio_phrase(row.get("uplift_ratio"))
    return f"Worth a slot once it can run: {need[0].upper()}{need[1:]}. Predicted: {predicted}."


def boost_again_sentence(row: Mapping[str, Any]) -> str:
    """A post boosted before that is worth boosting again: its last result beside tonight's prediction."""
    realised = log_cost_phrase(row.get("realised_uplift"))
    predicted = ratio_phrase(row.get("uplift_ratio"))
    return f"Boost again: its last Spark Ad came at {realised}; predicted now: {predicted}."


def advertiser_label(row: Mapping[str, Any]) -> str:
    """How a person knows the row's advertiser: its name (from the `advertisers` table), else its id."""
    return as_text(row.get("advertiser_name")).strip() or as_text(row.get("advertiser_id"))


def name_advertisers(frame: pd.DataFrame, advertisers: pd.DataFrame | None) -> pd.DataFrame:
    """`frame` with `advertiser_name` beside `advertiser_id`: the name the `advertisers` table gives,
    else empty (shown as the id). The names are hostile text: whoever shows them escapes them."""
    known = {} if advertisers is None or advertisers.empty else dict(
        zip(advertisers["advertiser_id"].astype(str), advertisers["name"], strict=True))
    out = frame.drop(columns=["advertiser_name"], errors="ignore")
    names = out["advertiser_id"].astype(str).map(known) if len(out) else pd.Series(dtype="str")
    at = list(out.columns).index("advertiser_id") + 1 if "advertiser_id" in out.columns else 0
    out.insert(at, "advertiser_name", names.fillna("").astype("str"))
    return out


def readable_list(value: Any) -> str:
    """A list (or a JSON-encoded list, as stored in the warehouse) as "a; b; c"; other text as is."""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    text = as_text(value)
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return text
        if isinstance(items, list):
            return "; ".join(str(v) for v in items)
    return text


def top_picks_table(shortlist: pd.DataFrame, per_advertiser: int = 3) -> list[dict[str, Any]]:
    """The first picks per advertiser as plain rows (for a Prefect table artifact or a terminal)."""
    if shortlist.empty:
        return []
    frame = top_per_advertiser(shortlist, per_advertiser)
    rows: list[dict[str, Any]] = []
    for r in frame.to_dict("records"):
        handle = as_text(r.get("creator_handle")).strip().lstrip("@")  # a missing handle is NaN, not "@nan"
        rows.append({
            "advertiser": advertiser_label(r),
            "advertiser_id": as_text(r.get("advertiser_id")),
            "rank": int(as_number(r.get("rank")) or 0),
            "post": as_text(r.get("post_id")),
            "creator": f"@{handle}" if handle else "",
            "uplift": ratio_phrase(r.get("uplift_ratio")),
            "why": as_text(r.get("reason_1")),
        })
    return rows


def line_of_test_picks(count: int) -> str:
    """The night's test picks in a line: "2 test pick(s). A test: ...". """
    return f"{count} test pick(s). {TEST_PICK_SENTENCE}"


def night_counts_line(candidates: Any, shortlisted: int, failures: int) -> str:
    """The night's counts in a line: "412 candidates considered, 15 shortlisted, 1 failure(s) listed in the
    report." (`candidates` "?" when unknown)."""
    return f"{candidates} candidates considered, {shortlisted} shortlisted, {failures} failure(s) listed in the report."
