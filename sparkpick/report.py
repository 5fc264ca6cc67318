"""The shortlist a marketer reads: a CSV and one self-contained HTML page per run.

`render_shortlist_html` is pure (a shortlist frame, run facts and thumbnail bytes in; a page out).
`write_report` is the only function here that touches files: it writes `reports/<date>/shortlist.csv`,
`reports/<date>/shortlist.html` (thumbnails embedded as data URIs, no network needed) and refreshes
`reports/latest` when the run is the newest one. All post text is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date as Date
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from sparkpick.contract import as_utc
from sparkpick.outside_text import visible_text
from sparkpick.shortlist import top_per_advertiser
from sparkpick.spreadsheet import write_csv

FLAG_COLUMNS: dict[str, tuple[str, str]] = {
    # shortlist column: (short label, what the marketer should do or know)
    "flag_no_auth_code": ("No auth code", "No Spark authorisation code yet: ask the creator for one."),
    "flag_auth_expiring": ("Code expiring", "The authorisation code expires within {days} days: launch or renew soon."),
    "flag_no_usage_rights": ("No usage rights", "No Spark usage rights on file in the creator's contract."),
    "flag_looks_like_ad": (
        "Looks like an ad", "High polish: paid audiences tend to swipe past content that looks like an ad."
    ),
    "flag_calibrating": ("Calibrating", "Under {hours} hours of data: the numbers are not stable yet."),
}
# Ratios this close to 1 read as "about the same cost" rather than a difference nobody can act on.
SAME_COST_BAND = 0.05
# TikTok item ids are long digit strings; only those can be turned into a public post link.
_TIKTOK_ITEM_ID = re.compile(r"^\d{15,22}$")
_LATEST = "latest"
_META_FILE = "report.json"
# A night whose as-of time is further than this from when it ran says so (a backfill, a demo world, a typo).
FAR_FROM_NOW_HOURS = 24.0


@dataclass(frozen=True)
class ReportMeta:
    """Facts about one run that the report's header shows."""

    as_of: datetime
    ran_at: datetime
    model_version: str | None
    candidates_considered: int
    polish_ad_threshold: float
    advertisers: int | None = None
    top_k: int | None = None
    source: str = ""
    run_id: str | None = None
    # Human-readable lines, one per thing that failed (a post, a video, a stage).
    failures: tuple[str, ...] = ()
    # Other short facts worth a line ("12 new posts ingested").
    notes: tuple[str, ...] = ()
    display_timezone: str = "UTC"
    # The warning window behind the "code expiring" flag (features.auth_expiry_warning_days).
    auth_expiry_days: int = 7
    # Posts younger than this are still calibrating (features.calibration_hours).
    calibration_hours: float = 48.0
    # Build TikTok links from item ids (off for made-up data such as the demo world).
    link_posts: bool = True

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = pd.Timestamp(self.as_of).isoformat()
        out["ran_at"] = pd.Timestamp(self.ran_at).isoformat()
        return out


# The monitor's decisions in a marketer's words: (badge, what to do).
DECISIONS: dict[str, tuple[str, str]] = {
    "too_early": ("Too early to tell", "Keep it running: not enough evidence yet either way."),
    "keep": ("Keep running", "No clear sign it is better or worse than your in-feed ads: keep it running."),
    "pause": ("Pause", "It is clearly dearer than your in-feed ads: pause it."),
    "scale": ("Add budget", "It is clearly cheaper than your in-feed ads: consider adding budget."),
}
LIVE_BOOSTS_CSV = "live_boosts.csv"
# Chart size in CSS pixels (an inline SVG: no script, no image file, nothing to fetch).
_CHART_W, _CHART_H, _CHART_PAD = 260, 90, 4


@dataclass(frozen=True)
class MonitorView:
    """What the report shows about live boosts and the model's track record.

    `boosts`: one row per live boost (the monitor's columns, optionally `creator_handle` and `caption`);
    `hourly`: those boosts' hourly rows up to the as-of time (`post_id`, `boosted_at`, `hour_start`,
    `spend`, `conversions`); `track_record`: the rolling figures (`TrackRecord.to_dict()`), or None;
    `problem`: why the monitor could not run this time (the shortlist is unaffected), or None.
    """

    boosts: pd.DataFrame
    hourly: pd.DataFrame
    track_record: Mapping[str, Any] | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ReportPaths:
    """Where one run's report went."""

    folder: Path
    csv: Path
    html: Path
    latest: Path | None = None
    rows: int = 0


# -- words a marketer reads --------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def ratio_phrase(ratio: float | None) -> str:
    """A cost-per-conversion ratio (in-feed CPA / Spark CPA) as "1.8x cheaper" or "1.3x more expensive"."""
    r = _num(ratio)
    if r is None or r <= 0:
        return "no estimate"
    if abs(r - 1.0) < SAME_COST_BAND:
        return "about the same cost"
    if r > 1:
        return f"{r:.1f}x cheaper"
    return f"{1 / r:.1f}x more expensive"


def uplift_sentence(ratio: float | None) -> str:
    """The predicted uplift as one sentence, honest when the post is expected to cost more."""
    r = _num(ratio)
    if r is None or r <= 0:
        return "No uplift estimate for this post."
    if abs(r - 1.0) < SAME_COST_BAND:
        return "About the same cost per conversion as your in-feed ads."
    return f"About {ratio_phrase(r)} per conversion than your in-feed ads."


def band_sentence(low: float | None, high: float | None) -> str:
    """The confidence band in the same words, or "" when the model gave none."""
    lo, hi = _num(low), _num(high)
    if lo is None or hi is None or lo <= 0 or hi <= 0:
        return ""
    lo, hi = min(lo, hi), max(lo, hi)
    if lo >= 1 - SAME_COST_BAND or hi <= 1 + SAME_COST_BAND:
        return f"Likely range: {ratio_phrase(lo)} to {ratio_phrase(hi)}."
    return f"Likely range: {ratio_phrase(lo)} to {ratio_phrase(hi)}: it could go either way."


def ratio_band(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The confidence band as cost ratios: `uplift_ratio_low/high`, else exp of the log-scale
    `uplift_low/high` (the uplift label is a log CPA ratio)."""
    low, high = _num(row.get("uplift_ratio_low")), _num(row.get("uplift_ratio_high"))
    if low is not None and high is not None:
        return low, high
    low, high = _num(row.get("uplift_low")), _num(row.get("uplift_high"))
    if low is not None and high is not None:
        return math.exp(low), math.exp(high)
    return None, None


# The few currencies whose sign reads better than their code; any other shows its ISO code after the amount.
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(value: Any, currency: Any = None) -> str:
    """An amount in the advertiser's currency (`advertisers.currency`, ISO 4217): "$310", "€9.50",
    "4,200 JPY"; a bare number when the currency is unknown ("1,234"), "–" when there is no amount."""
    v = _num(value)
    if v is None:
        return "–"
    amount = f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2f}"
    if not isinstance(currency, str) or not currency:
        return amount
    sign = _CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount}" if sign else f"{amount} {currency}"


def cost_phrase(ratio: Any) -> str:
    """A cost-per-conversion ratio (Spark CPA / in-feed CPA) in the monitor's one convention: "2.3x your
    in-feed cost", "0.62x your in-feed cost", "about your in-feed cost" (within SAME_COST_BAND)."""
    r = _num(ratio)
    if r is None or r <= 0 or math.isinf(r):
        return "not comparable with your in-feed cost"
    if abs(r - 1.0) < SAME_COST_BAND:
        return "about your in-feed cost"
    return f"{_times(r)} your in-feed cost"


def _times(r: float) -> str:
    """"2.3x"; two decimals below 1, where one would round a real difference away ("0.96x", not "1.0x")."""
    return f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def log_cost_phrase(uplift: Any) -> str:
    """An uplift in the label's log units (log(in-feed CPA / Spark CPA)) as cost_phrase: "0.55x your in-feed cost"."""
    v = _num(uplift)
    return "no estimate" if v is None else cost_phrase(math.exp(-max(-50.0, min(50.0, v))))


def cost_range_phrase(low_uplift: Any, high_uplift: Any, unit: bool = True) -> str:
    """A band of log uplifts as costs, cheapest first: "0.62x to 1.4x your in-feed cost" ("0.62x to 1.4x"
    without the `unit`, right after a cost that names it)."""
    lo, hi = _num(low_uplift), _num(high_uplift)
    if lo is None or hi is None:
        return ""
    cheap, dear = (math.exp(-max(-50.0, min(50.0, v))) for v in (max(lo, hi), min(lo, hi)))
    return f"{_times(cheap)} to {_times(dear)}" + (" your in-feed cost" if unit else "")


def chance_phrase(p: float) -> str:
    """A probability in words that never claims certainty: "83%", "over 99%", "under 1%"."""
    return "over 99%" if p > 0.99 else "under 1%" if p < 0.01 else f"{p:.0%}"


def log_ratio_phrase(value: Any) -> str:
    """An uplift in the label's log units (log(in-feed CPA / Spark CPA)) as "1.8x cheaper" and so on."""
    v = _num(value)
    return "no estimate" if v is None else ratio_phrase(math.exp(max(-50.0, min(50.0, v))))


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


# What an action on the ad account came to, in words (the actions log and `sparkpick launch`).
ACTION_KINDS = {"launch": "launch", "authorize": "authorise the code", "create_adgroup": "create the ad group",
                "create_ad": "create the ad (disabled)", "enable_ad": "enable the ad", "pause": "pause",
                "scale": "raise the budget", "undo_pause": "undo a pause", "undo_scale": "undo a budget change"}
ACTION_STATUSES = {"launched": "launched", "planned": "planned, not sent", "refused": "refused",
                   "done": "done, read back", "reconciled": "done (answer lost; the account shows it)",
                   "intent": "sent, answer not yet recorded", "not_applied": "not done (the account does not show it)",
                   "unexpected": "answered OK, but the account does not show it", "failed": "failed",
                   "already": "nothing to do"}


def action_sentence(kind: str, post_id: Any, status: str, reason: Any = "", ad_id: Any = None) -> str:
    """One action in a sentence: `Post 123: launch - launched (ad 456). why`."""
    what = ACTION_KINDS.get(kind, kind)
    ad = f" (ad {ad_id})" if isinstance(ad_id, str) and ad_id and not ad_id.startswith("<") else ""
    why = f". {reason}" if isinstance(reason, str) and reason.strip() else ""
    return f"Post {post_id}: {what} - {ACTION_STATUSES.get(status, status)}{ad}{why}"


def track_record_sentence(record: Mapping[str, Any] | None) -> str:
    """The model's track record in one line ("Last 60 days: predicted 2.4x cheaper, realised 2.1x cheaper;
    77% inside the range (31 boosts)."), or "" when there is nothing to say."""
    if not record:
        return ""
    days = f"{float(record.get('window_days') or 0):g}"
    n = int(record.get("count") or 0)
    if n == 0:
        return f"Last {days} days: no finished boost had a prediction from before it started."
    predicted, realised = log_ratio_phrase(record.get("predicted_mean")), log_ratio_phrase(record.get("realised_mean"))
    coverage = _num(record.get("coverage"))
    inside = "" if coverage is None else f"; {coverage:.0%} inside the predicted range"
    boosts = "boost" if n == 1 else "boosts"
    return f"Last {days} days: predicted {predicted} on average, realised {realised}{inside} ({n} finished {boosts})."


def retrain_sentence(record: Mapping[str, Any] | None) -> str:
    """"Retraining is due: ..." when the track record says so, else ""."""
    if not record or not record.get("retrain_due"):
        return ""
    why = "; ".join(str(w) for w in record.get("why") or ())
    return f"Retraining is due: {why}. Run `sparkpick train`." if why else "Retraining is due. Run `sparkpick train`."


def conversions_phrase(n: float) -> str:
    """"1 conversion", "3 conversions", "no conversion"."""
    k = round(float(n))
    return "no conversion" if k == 0 else f"{k} conversion{'' if k == 1 else 's'}"


def _span(hours: float) -> str:
    """"72 h" as "3 days", "36 h" as "36 h"."""
    return f"{hours / 24:.0f} days" if hours >= 48 and hours % 24 == 0 else f"{hours:.0f} h"


@dataclass(frozen=True)
class LiveFacts:
    """What the monitor found about one live boost at T, for `live_reason` to put in words.

    `why` is the decision's ground: "no_baseline", "learning", "little_spend", "no_norms" (no verdict yet),
    "money" (pausing saves more than it risks, beyond the calibrated threshold), "proven" (the anytime-
    valid test proved it dearer), "scale", "keep". Costs are Spark CPA / in-feed CPA; uplifts log(in-feed
    CPA / Spark CPA); amounts in the advertiser's `currency`.
    """

    decision: str
    why: str
    hours: float
    spend: float
    conversions: int
    currency: str | None = None
    baseline_cpa: float = math.nan
    min_hours: float = 0.0
    norms_min_boosts: int = 0
    pending: float = 0.0  # conversions this spend would bring, usually reported later or held back
    estimate: float = math.nan  # posterior median uplift, and its band
    low: float = math.nan
    high: float = math.nan
    prob_dearer: float = math.nan
    stake: float = 0.0  # the spend of the next stake_hours at this pace
    stake_hours: float = 0.0
    saving: float = 0.0  # expected money pausing saves out of the stake
    proven_dearer: bool = False
    proven_cheaper: bool = False
    pause_confidence: float = 0.95
    calibration: str = ""  # where the pause threshold comes from ("" = none could be calibrated)
    calibrated_here: bool = True  # from this advertiser's own finished boosts
    hint_spend: float = math.nan  # keep: pause if the next hint_spend brings fewer than hint_conversions
    hint_conversions: int = -1
    scale_confidence: float = 0.95
    learning_hours: float = 0.0
    budget_step: float = 0.0
    daily_spend: float = 0.0
    scale_every_hours: float = 24.0
    quiet_hours: int = 0  # hours with spend but no impressions reported
    silent_day: bool = False  # spend in the last 24 h and no conversion reported in them
    code_expired_at: pd.Timestamp | None = None


def live_reason(f: LiveFacts) -> str:
    """The reason for a live boost's decision in a marketer's words, with what the decision is worth."""
    m = f.currency
    head = f"{f.hours:.0f} h in, {conversions_phrase(f.conversions)} for {money(f.spend, m)}"
    notes = []
    if f.quiet_hours:
        notes.append(f"{f.quiet_hours} hour{'s' if f.quiet_hours != 1 else ''} with spend but no impressions "
                     "reported yet")
    if f.silent_day:
        notes.append("no conversion reported in the last 24 h, though reports can lag")
    if f.code_expired_at is not None:
        notes.append(f"the creator's authorisation code expired {pd.Timestamp(f.code_expired_at):%Y-%m-%d %H:%M} "
                     "UTC, so TikTok stops delivering it: renew the code to keep it running")
    if notes:
        head += f" ({'; '.join(notes)})"
    if f.why == "no_baseline":
        return f"{head}: no in-feed ads of this advertiser to compare with yet, so no verdict"
    if f.why == "learning":
        return f"{head}: TikTok is still finding the audience; first verdict after {f.min_hours:.0f} h"
    if f.why == "little_spend":
        return (f"{head}: less than your in-feed ads pay for one conversion ({money(f.baseline_cpa, m)}); "
                "too early to tell")
    so_far = (f"{cost_phrase(f.spend / f.conversions / f.baseline_cpa)} so far" if f.conversions else
              f"none yet, where your in-feed ads pay {money(f.baseline_cpa, m)} for one")
    pending = ""
    if f.pending >= 1:
        verb = "is" if round(f.pending) == 1 else "are"
        pending = (f" (about {conversions_phrase(f.pending)} from this spend {verb} usually reported later or "
                   "held back while TikTok learns)")
    expect = f"; once settled, expect {log_cost_phrase(f.estimate)}"
    if band := cost_range_phrase(f.low, f.high, unit=False):
        expect += f" (likely {band})"
    stake = f"the next {money(f.stake, m)} ({_span(f.stake_hours)} at this pace)"
    proven = (f"; proven dearer (an anytime-valid test, {f.pause_confidence:.0%} sure however often it looks)"
              if f.proven_dearer else "")
    where = ""
    if f.calibration and f.why in ("money", "keep"):
        where = f" (pause rule calibrated on {f.calibration})"
    if f.why == "no_norms":
        return (f"{head}: {so_far}{expect}; fewer than {f.norms_min_boosts} finished boosts to learn TikTok's "
                "reporting delay from, so no pause or added budget yet: keep")
    if f.decision == "pause":
        worth = f"pausing now saves about {money(f.saving, m)} of {stake} at {log_cost_phrase(f.estimate)}"
        if f.why == "proven" and not f.calibration:
            worth += "; too few finished boosts to calibrate a pause rule on, so it pauses only what is proven"
        return f"{head}: {so_far}{pending}{expect}; {worth}{where}{proven}: pause"
    if f.decision == "scale":
        proven_c = "; proven cheaper (an anytime-valid test)" if f.proven_cheaper else ""
        more = f.daily_spend * f.budget_step
        return (f"{head}: {so_far}{expect}; {chance_phrase(1 - f.prob_dearer)} sure it is cheaper than your in-feed ads"
                f"{proven_c}: add budget, {f.budget_step:.0%} more a day (about {money(more, m)} on "
                f"{money(f.daily_spend, m)} a day), at most once every {_span(f.scale_every_hours)}")
    odds = (f"{chance_phrase(f.prob_dearer)} likely dearer" if f.prob_dearer >= 0.5
            else f"{chance_phrase(1 - f.prob_dearer)} likely cheaper")
    if f.prob_dearer < 1 - f.scale_confidence and f.hours < f.learning_hours:
        odds += f"; more budget only after the learning phase ({f.learning_hours:.0f} h)"
    if not f.calibration:
        turn = "too few finished boosts to calibrate a pause rule on, so it pauses only when proven dearer"
    elif f.stake <= 0:
        turn = "no spend in the last 24 h, so nothing at stake"
    elif f.hint_conversions >= 0 and math.isfinite(f.hint_spend):
        fewer = ("brings no conversion" if f.hint_conversions == 0
                 else f"brings fewer than {conversions_phrase(f.hint_conversions + 1)}")
        turn = f"pause if the next {money(f.hint_spend, m)} {fewer}"
    else:
        turn = f"even {stake} without a conversion would not pause it"
    return f"{head}: {so_far}{pending}{expect}; {odds}; {turn}{where}: keep"


# The shortlist's policy in a marketer's words (models/policy.py, models/prior.py).
PRIOR_LABEL = "no Spark Ads results yet: ranked by the brief's rules"
PRIOR_BAND_NOTE = ("The cost column is not an estimate yet: until your own Spark Ads have results, any post "
                   "could come out well dearer or well cheaper than your in-feed ads.")
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
    parts = []
    if live:
        parts.append(f"{live} {'post is' if live == 1 else 'posts are'} being boosted right now")
    if before:
        parts.append(f"{before} {'was' if before == 1 else 'were'} boosted before and take no fresh slot")
    if not parts:
        return ""
    return f"Left out of the shortlist: {' and '.join(parts)}."


def boost_again_sentence(row: Mapping[str, Any]) -> str:
    """A post boosted before that is worth boosting again: its last result beside tonight's prediction."""
    realised = log_ratio_phrase(row.get("realised_uplift"))
    predicted = ratio_phrase(row.get("uplift_ratio"))
    return f"Boost again: its last Spark Ad came {realised}; predicted now: {predicted}."


def advertiser_label(row: Mapping[str, Any]) -> str:
    """How a person knows the row's advertiser: its name (from the `advertisers` table), else its id."""
    return _text(row.get("advertiser_name")).strip() or _text(row.get("advertiser_id"))


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


def compact_count(value: Any) -> str:
    """12345 -> "12.3K"; for the table's organic numbers."""
    v = _num(value)
    if v is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            return f"{v / size:.1f}{suffix}"
    return f"{v:.0f}"


def age_phrase(posted_at: pd.Timestamp | None, as_of: pd.Timestamp) -> str:
    if posted_at is None or pd.isna(posted_at):
        return ""
    hours = (as_of - posted_at).total_seconds() / 3600
    if hours < 0:
        return "after the as-of time"
    if hours < 48:
        return f"{hours:.0f} h ago"
    return f"{hours / 24:.0f} days ago"


def readable_list(value: Any) -> str:
    """A list (or a JSON-encoded list, as stored in the warehouse) as "a; b; c"; other text as is."""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    text = _text(value)
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return text
        if isinstance(items, list):
            return "; ".join(str(v) for v in items)
    return text


def post_link(row: Mapping[str, Any]) -> str | None:
    """A public link to the post: the `post_url` column if present, else built from a TikTok item id."""
    url = row.get("post_url")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    post_id, handle = str(row.get("post_id") or ""), row.get("creator_handle")
    if _TIKTOK_ITEM_ID.match(post_id) and isinstance(handle, str) and handle:
        return f"https://www.tiktok.com/@{handle.lstrip('@')}/video/{post_id}"
    return None


def add_display_flags(shortlist: pd.DataFrame) -> pd.DataFrame:
    """The shortlist with every flag column present as a plain bool (a missing flag reads as False).
    Flags are decided with the features (`features/readiness.py`); the report only shows them."""
    out = shortlist.copy()
    for col in FLAG_COLUMNS:
        if col not in out.columns:
            out[col] = False
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    return out


# -- the page --------------------------------------------------------------------------------------------
def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def data_uri(data: bytes | None) -> str | None:
    """Image bytes as a `data:` URI, or None for anything that is not a known image format."""
    if not data:
        return None
    mime = _image_mime(data)
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _shown(value: Any) -> Any:
    """Every value the template prints, before Jinja2 escapes it: outside text shows as it reads (no bidi
    control reorders a handle, no invisible character, no control character; `visible_text`). HTML the
    code built (Markup) holds no such character either, and stays HTML."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(visible_text(str(value), lines=True))
    return visible_text(value, lines=True) if isinstance(value, str) else value


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sparkpick", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )


def _local(ts: Any, tz: ZoneInfo) -> pd.Timestamp | None:
    if ts is None or pd.isna(ts):
        return None
    return as_utc(ts).tz_localize("UTC").tz_convert(tz)


def _fmt_time(ts: pd.Timestamp | None) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M %Z")


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _row_view(
    row: Mapping[str, Any], as_of: pd.Timestamp, tz: ZoneInfo, thumbs: Mapping[str, str], flag_help: list[dict],
    link_posts: bool,
) -> dict:
    post_id = _text(row.get("post_id"))
    posted = _local(row.get("posted_at"), tz)
    ratio = _num(row.get("uplift_ratio"))
    flags = [f for f in flag_help if bool(row.get(f["key"], False))]
    reasons = [_text(row.get(f"reason_{i}")) for i in (1, 2, 3)]
    polish = _num(row.get("polish_score"))
    engagement = _num(row.get("engagement_rate"))
    return {
        "advertiser_id": _text(row.get("advertiser_id")),
        "advertiser_name": _text(row.get("advertiser_name")).strip(),
        "post_id": post_id,
        "rank": int(_num(row.get("rank")) or 0),
        "thumb": thumbs.get(post_id),
        "handle": _text(row.get("creator_handle")).lstrip("@"),
        "link": post_link(row) if link_posts else None,
        "caption": _text(row.get("caption")),
        "posted": _fmt_time(posted),
        "posted_sort": posted.timestamp() if posted is not None else 0,
        "age": age_phrase(as_utc(row["posted_at"]) if posted is not None else None, as_of),
        "views": compact_count(row.get("views")),
        "views_sort": _num(row.get("views")) or 0,
        "likes": compact_count(row.get("likes")),
        "comments": compact_count(row.get("comments")),
        "shares": compact_count(row.get("shares")),
        "engagement": "–" if engagement is None else f"{engagement * 100:.1f}%",
        "engagement_sort": engagement or 0,
        "ratio": ratio,
        "ratio_sort": ratio if ratio is not None else -1,
        "uplift_short": ratio_phrase(ratio),
        "uplift_class": "none" if ratio is None else ("good" if ratio >= 1 + SAME_COST_BAND
                                                     else "bad" if ratio <= 1 - SAME_COST_BAND else "even"),
        "uplift_text": uplift_sentence(ratio),
        "band_text": band_sentence(*ratio_band(row)),
        "reasons": [r for r in reasons if r],
        "flags": flags,
        "flag_keys": " ".join(f["key"] for f in flags) or "none",
        "polish": None if polish is None else f"{polish:.0f}",
        "polish_sort": polish if polish is not None else -1,
        "polish_reasons": readable_list(row.get("polish_reasons")),
        "video_status": _text(row.get("video_status")),
        # What became of the pick on the ad account (flows/approval.py): approved, launched, waiting, ...
        "approval": _text(row.get("approval")).strip(),
        "test_pick": TEST_PICK_SENTENCE if _num(row.get("is_test_pick")) == 1 else "",
    }


_DECISION_ORDER = {"pause": 0, "scale": 1, "keep": 2, "too_early": 3}


def _points(xs: np.ndarray, ys: np.ndarray, x_max: float, y_max: float) -> str:
    """SVG polyline points (numbers only) for ys over xs, scaled into the chart box."""
    w, h, pad = _CHART_W, _CHART_H, _CHART_PAD
    px = pad + (w - 2 * pad) * (xs / x_max if x_max > 0 else np.zeros_like(xs))
    py = h - pad - (h - 2 * pad) * (ys / y_max if y_max > 0 else np.zeros_like(ys))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px.tolist(), py.tolist(), strict=True))


def _chart(hours: np.ndarray, spend: np.ndarray, conversions: np.ndarray) -> dict[str, Any]:
    """The chart of one boost from its hours in order (offsets from its first hour) and their figures."""
    # Each value counts at the end of its hour.
    xs = np.concatenate([[0.0], hours - hours[0] + 1])
    spend_c = np.concatenate([[0.0], np.cumsum(spend)])
    conv_c = np.concatenate([[0.0], np.cumsum(conversions)])
    x_max = max(float(xs[-1]), 1.0)
    return {
        "width": _CHART_W, "height": _CHART_H, "hours": f"{xs[-1]:.0f}",
        "spend_points": _points(xs, spend_c, x_max, max(float(spend_c[-1]), 1e-9)),
        "conv_points": _points(xs, conv_c, x_max, max(float(conv_c[-1]), 1.0)),
        "spend_total": money(spend_c[-1]), "conv_total": f"{conv_c[-1]:.0f}",
    }


def _series(hourly: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hours since the epoch, spend, conversions, order) of hourly rows; missing figures read as 0."""
    hours = (pd.to_datetime(hourly["hour_start"]).astype("datetime64[s]").astype("int64") / 3600).to_numpy()
    spend = pd.to_numeric(hourly["spend"], errors="coerce").fillna(0).to_numpy("float64")
    conv = pd.to_numeric(hourly["conversions"], errors="coerce").fillna(0).to_numpy("float64")
    return hours, spend, conv, np.argsort(hours, kind="stable")


def delivery_chart(hourly: pd.DataFrame) -> dict[str, Any] | None:
    """One boost's cumulative spend and conversions over its hours, as SVG polyline points and the
    figures its legend shows; None without hourly rows."""
    if hourly is None or hourly.empty:
        return None
    hours, spend, conv, order = _series(hourly)
    return _chart(hours[order], spend[order], conv[order])


def charts_by_boost(hourly: pd.DataFrame | None) -> dict[tuple[str, pd.Timestamp], dict[str, Any]]:
    """Each boost's delivery chart by (post_id, boosted_at), from its hourly rows split in one pass: never
    filtered per boost, which costs boosts x rows (10,000 live boosts took a minute)."""
    if hourly is None or hourly.empty:
        return {}
    post = hourly["post_id"].astype("str").to_numpy()
    boosted = pd.to_datetime(hourly["boosted_at"]).astype("datetime64[us]").to_numpy()
    hours, spend, conv, _ = _series(hourly)
    order = np.lexsort((hours, boosted, post))
    post, boosted, hours, spend, conv = post[order], boosted[order], hours[order], spend[order], conv[order]
    new = np.ones(len(order), bool)
    new[1:] = (post[1:] != post[:-1]) | (boosted[1:] != boosted[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(order))
    return {(str(post[a]), pd.Timestamp(boosted[a])): _chart(hours[a:b], spend[a:b], conv[a:b])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}


def _live_view(row: Mapping[str, Any], chart: dict[str, Any] | None, tz: ZoneInfo) -> dict:
    """One live boost's card; `chart` is its delivery chart (`charts_by_boost`)."""
    decision = _text(row.get("decision")) or "too_early"
    label, help_text = DECISIONS.get(decision, (decision, ""))
    predicted = _num(row.get("predicted_uplift"))
    estimate, low, high = (_num(row.get(c)) for c in ("estimated_uplift", "low", "high"))
    spend, conversions = _num(row.get("spend")), _num(row.get("conversions"))
    cpa, baseline = _num(row.get("cpa")), _num(row.get("baseline_cpa"))
    hours = _num(row.get("hours_live"))
    currency = row.get("currency")
    return {
        "advertiser_id": _text(row.get("advertiser_id")),
        "advertiser_name": _text(row.get("advertiser_name")).strip(),
        "post_id": _text(row.get("post_id")),
        "handle": _text(row.get("creator_handle")).lstrip("@"),
        "caption": _text(row.get("caption")),
        "boosted": _fmt_time(_local(row.get("boosted_at"), tz)),
        "hours": "–" if hours is None else f"{hours:.0f} h",
        "spend": money(spend, currency),
        "conversions": "–" if conversions is None else f"{conversions:.0f}",
        "cpa": money(cpa, currency) if cpa is not None else "no conversions yet",
        "baseline_cpa": money(baseline, currency) if baseline is not None else "no in-feed baseline",
        "decision": decision,
        "decision_label": label,
        "decision_help": help_text,
        "reason": _text(row.get("reason")),
        "predicted": log_cost_phrase(predicted) if predicted is not None else "",
        "estimate": log_cost_phrase(estimate) if estimate is not None else "no estimate yet",
        "estimate_range": cost_range_phrase(low, high),
        "chart": chart,
        "order": (_DECISION_ORDER.get(decision, 9), _text(row.get("advertiser_id")), _text(row.get("boosted_at"))),
    }


def live_views(monitor: MonitorView | None, tz: ZoneInfo) -> list[dict]:
    """The live-boost cards: the ones to act on (pause, then add budget) first."""
    if monitor is None or monitor.boosts is None or monitor.boosts.empty:
        return []
    charts = charts_by_boost(monitor.hourly)
    views = [_live_view(r, charts.get((_text(r.get("post_id")), pd.Timestamp(r.get("boosted_at")))), tz)
             for r in monitor.boosts.to_dict("records")]
    return sorted(views, key=lambda v: v["order"])


def render_shortlist_html(
    shortlist: pd.DataFrame, meta: ReportMeta, thumbnails: Mapping[str, bytes], monitor: MonitorView | None = None,
    others: pd.DataFrame | None = None,
) -> str:
    """The shortlist as one self-contained HTML page (no network, no external files).

    `thumbnails` maps post_id to image bytes (JPEG/PNG/WebP); posts without one show a placeholder.
    `monitor` adds the "Live boosts" section (cards, the track record line) above the shortlist;
    `others`, the candidates the policy left out (live or boosted before: `status`), a line saying how
    many and why, with the ones worth boosting again (`boost_again`) beside their last result.
    """
    tz = ZoneInfo(meta.display_timezone)
    as_of = as_utc(meta.as_of)
    frame = add_display_flags(shortlist)
    if len(frame):
        frame = frame.sort_values(["advertiser_id", "rank"], kind="stable")
    thumbs = {pid: uri for pid, data in thumbnails.items() if (uri := data_uri(data))}
    windows = {"days": meta.auth_expiry_days, "hours": f"{meta.calibration_hours:g}"}
    flag_help = [{"key": k, "label": lbl, "help": text.format(**windows)} for k, (lbl, text) in FLAG_COLUMNS.items()]
    rows = [_row_view(r, as_of, tz, thumbs, flag_help, meta.link_posts) for r in frame.to_dict("records")]
    advertisers = sorted({r["advertiser_id"] for r in rows})
    flag_counts = {col: int(frame[col].sum()) for col in FLAG_COLUMNS}
    summary = []
    for adv in advertisers:
        mine = [r for r in rows if r["advertiser_id"] == adv]
        best = max((r["ratio"] for r in mine if r["ratio"] is not None), default=None)
        ready = sum(1 for r in mine if not r["flags"])
        summary.append({"advertiser_id": adv, "name": mine[0]["advertiser_name"], "picks": len(mine), "ready": ready,
                        "best": ratio_phrase(best)})
    template = _environment().get_template("shortlist.html.j2")
    return template.render(
        rows=rows,
        advertisers=[{"id": s["advertiser_id"], "label": s["name"] or s["advertiser_id"]} for s in summary],
        summary=summary,
        flags=[{**f, "count": flag_counts[f["key"]]} for f in flag_help],
        meta=meta,
        as_of=_fmt_time(_local(meta.as_of, tz)),
        ran_at=_fmt_time(_local(meta.ran_at, tz)),
        polish_threshold=f"{meta.polish_ad_threshold:.0f}",
        monitor=monitor,
        live=live_views(monitor, tz),
        track_record=track_record_sentence(monitor.track_record) if monitor else "",
        retrain=retrain_sentence(monitor.track_record) if monitor else "",
        ranking=ranking_headline(frame["model_kind"].iloc[0] if "model_kind" in frame and len(frame) else "",
                                 boosts_known(frame)),
        prior_note=PRIOR_BAND_NOTE,
        left_out=left_out_sentence(others),
        again=_again_views(others),
        test_label=TEST_PICK_LABEL,
    )


def _again_views(others: pd.DataFrame | None) -> list[dict[str, str]]:
    if others is None or others.empty or "boost_again" not in others.columns:
        return []
    again = others[others["boost_again"].fillna(False).astype(bool)]
    return [{"who": " ".join(p for p in (advertiser_label(r), f"post {_text(r.get('post_id'))}") if p),
             "text": boost_again_sentence(r)} for r in again.to_dict("records")]


# -- files -----------------------------------------------------------------------------------------------
def load_thumbnails(shortlist: pd.DataFrame, max_bytes: int = 2_000_000) -> dict[str, bytes]:
    """Read each row's `thumbnail_path` (missing, unreadable or oversized files are skipped)."""
    out: dict[str, bytes] = {}
    if "thumbnail_path" not in shortlist.columns:
        return out
    for post_id, path in zip(shortlist["post_id"], shortlist["thumbnail_path"], strict=True):
        if not isinstance(path, str) or not path:
            continue
        try:
            p = Path(path)
            if p.stat().st_size <= max_bytes:
                out[str(post_id)] = p.read_bytes()
        except OSError:
            continue
    return out


def shortlist_csv_frame(shortlist: pd.DataFrame) -> pd.DataFrame:
    """The CSV's rows: the shortlist with every flag as a bool, the uplift in words and the advertiser's
    name (its id where no name is known) beside its id."""
    out = add_display_flags(shortlist)
    if len(out):
        out = out.sort_values(["advertiser_id", "rank"], kind="stable")
    if "advertiser_id" in out.columns:
        labels = [advertiser_label(r) for r in out.to_dict("records")]
        out = out.drop(columns=["advertiser_name"], errors="ignore")
        out.insert(list(out.columns).index("advertiser_id") + 1, "advertiser_name", labels)
    ratio = out["uplift_ratio"] if "uplift_ratio" in out.columns else pd.Series(None, index=out.index)
    out["uplift_text"] = [uplift_sentence(r) for r in ratio]
    return out.reset_index(drop=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _folder_ran_at(folder: Path) -> pd.Timestamp | None:
    """When the night in `folder` ran (its report.json), or None when that is unknown."""
    try:
        return as_utc(json.loads((folder / _META_FILE).read_text(encoding="utf-8"))["ran_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _sweep_latest_leftovers(reports_dir: Path, keep: Path | None = None) -> None:
    """Remove what a killed refresh of `latest` left: hidden links and the hidden copies older versions made."""
    for left in reports_dir.glob(f".{_LATEST}.*"):
        if left == keep:
            continue
        if left.is_symlink() or left.is_file():
            left.unlink(missing_ok=True)
        else:
            shutil.rmtree(left, ignore_errors=True)


def _refresh_latest(reports_dir: Path, folder: Path, ran_at: pd.Timestamp) -> Path | None:
    """Point `latest` at this night's folder unless a night that ran later is already there.

    `latest` follows the newest night *run*, not the newest as-of date: a night once run with a far-future
    as-of cannot pin it. It is a relative symbolic link, swapped in by one rename: a kill at any moment
    leaves the old one or the new one, never none. What a killed refresh left (and the full hidden copies
    older versions made) is swept at the next one.
    """
    latest = reports_dir / _LATEST
    current = _folder_ran_at(latest) if latest.exists() else None
    if current is not None and current > ran_at:
        _sweep_latest_leftovers(reports_dir)
        return None
    link = reports_dir / f".{_LATEST}.{os.getpid()}.link"
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name, target_is_directory=True)
    if latest.is_dir() and not latest.is_symlink():
        # A full copy, as older versions kept it: moved aside (a folder cannot be replaced by a link in one
        # rename), once per home; the sweep removes it.
        os.replace(latest, reports_dir / f".{_LATEST}.{os.getpid()}.old")
    os.replace(link, latest)
    _sweep_latest_leftovers(reports_dir)
    return latest


def reuse_report(reports_dir: Path, date: Date | str, ran_at: Any) -> ReportPaths | None:
    """The report a night already wrote for `date`, kept as it is for a night that repeats itself (same
    inputs, same shortlist): its files are marked as written now and `latest` points at it (this night
    ran at `ran_at`). None when any of its files is missing: then it is written again."""
    day = date.isoformat() if isinstance(date, Date) else str(date)
    folder = Path(reports_dir) / day
    csv_path, html_path, info = folder / "shortlist.csv", folder / "shortlist.html", folder / _META_FILE
    if not (csv_path.is_file() and html_path.is_file() and info.is_file()):
        return None
    try:
        rows = int(json.loads(info.read_text(encoding="utf-8")).get("rows", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    os.utime(info)  # "written by this run", for whoever checks (the nightly command's summary)
    latest = _refresh_latest(Path(reports_dir), folder, as_utc(ran_at))
    return ReportPaths(folder=folder, csv=csv_path, html=html_path, latest=latest, rows=rows)


def write_report(
    shortlist: pd.DataFrame,
    meta: ReportMeta,
    reports_dir: Path,
    date: Date | str,
    thumbnails: Mapping[str, bytes] | None = None,
    monitor: MonitorView | None = None,
    others: pd.DataFrame | None = None,
) -> ReportPaths:
    """Write `<reports_dir>/<date>/shortlist.{csv,html}` (replacing that date's files: a re-run of the
    same night gives the same report) and point `<reports_dir>/latest` at it (`_refresh_latest`).

    Thumbnails default to the files named in the shortlist's `thumbnail_path` column. With `monitor`, the
    page gets its "Live boosts" section and `live_boosts.csv` is written beside the shortlist.
    """
    day = date.isoformat() if isinstance(date, Date) else str(date)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise ValueError(f"Report date must look like YYYY-MM-DD, got {day!r}")
    folder = Path(reports_dir) / day
    folder.mkdir(parents=True, exist_ok=True)
    thumbs = load_thumbnails(shortlist) if thumbnails is None else dict(thumbnails)
    csv_path, html_path = folder / "shortlist.csv", folder / "shortlist.html"
    csv_frame = shortlist_csv_frame(shortlist)
    write_csv(csv_path, csv_frame)
    _write_atomic(html_path, render_shortlist_html(shortlist, meta, thumbs, monitor, others).encode("utf-8"))
    info = {"date": day, "rows": len(csv_frame), **meta.to_json()}
    frame = shortlist if len(shortlist) else None
    info["ranking"] = ranking_headline(frame["model_kind"].iloc[0], boosts_known(frame)) \
        if frame is not None and "model_kind" in frame.columns else ""
    info["left_out_text"] = left_out_sentence(others)
    info["test_picks"] = int(shortlist["is_test_pick"].fillna(False).astype(bool).sum()) \
        if "is_test_pick" in shortlist.columns else 0
    if others is not None and "status" in others.columns:
        info["left_out"] = {str(k): int(v) for k, v in others["status"].value_counts().sort_index().items()}
        info["boost_again"] = int(others.get("boost_again", pd.Series(dtype=bool)).fillna(False).astype(bool).sum())
    live_csv = folder / LIVE_BOOSTS_CSV
    if monitor is not None:
        write_csv(live_csv, monitor.boosts)
        info["live_boosts"] = len(monitor.boosts)
        info["track_record"] = dict(monitor.track_record) if monitor.track_record else None
    elif live_csv.exists():  # a re-run without the monitor must not leave an older night's live boosts
        live_csv.unlink()
    _write_atomic(folder / _META_FILE, json.dumps(info, indent=2, default=str).encode("utf-8"))
    latest = _refresh_latest(Path(reports_dir), folder, as_utc(meta.ran_at))
    return ReportPaths(folder=folder, csv=csv_path, html=html_path, latest=latest, rows=len(csv_frame))


def top_picks_table(shortlist: pd.DataFrame, per_advertiser: int = 3) -> list[dict[str, Any]]:
    """The first picks per advertiser as plain rows (for a Prefect table artifact or a terminal)."""
    if shortlist.empty:
        return []
    frame = top_per_advertiser(shortlist, per_advertiser)
    rows: list[dict[str, Any]] = []
    for r in frame.to_dict("records"):
        handle = _text(r.get("creator_handle")).strip().lstrip("@")  # a missing handle is NaN, not "@nan"
        rows.append({
            "advertiser": advertiser_label(r),
            "advertiser_id": _text(r.get("advertiser_id")),
            "rank": int(_num(r.get("rank")) or 0),
            "post": _text(r.get("post_id")),
            "creator": f"@{handle}" if handle else "",
            "uplift": ratio_phrase(r.get("uplift_ratio")),
            "why": _text(r.get("reason_1")),
        })
    return rows


def iter_flag_labels(row: Mapping[str, Any]) -> Iterable[str]:
    """The short labels of the flags set on one shortlist row."""
    return (label for col, (label, _) in FLAG_COLUMNS.items() if bool(row.get(col, False)))
