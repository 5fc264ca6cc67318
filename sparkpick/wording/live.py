"""Live boosts in a marketer's words: the monitor's decisions, the reason for each, the track record."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sparkpick.vocabulary import Decision, require_words
from sparkpick.wording.conventions import (
    as_number,
    chance_phrase,
    conversions_phrase,
    cost_phrase,
    cost_range_phrase,
    log_cost_phrase,
    money,
    span_phrase,
)

# The monitor's decisions in a marketer's words: (badge, what to do). Every decision has its words.
DECISION_WORDS: dict[Decision, tuple[str, str]] = require_words(Decision, {
    Decision.TOO_EARLY: ("Too early to tell", "Keep it running: not enough evidence yet either way."),
    Decision.KEEP: ("Keep running", "No clear sign it is better or worse than your in-feed ads: keep it running."),
    Decision.PAUSE: ("Pause", "It is clearly more expensive than your in-feed ads: pause it."),
    Decision.SCALE: ("Add budget", "It is clearly cheaper than your in-feed ads: consider adding budget."),
})


def decision_label(decision: Any) -> str:
    """The decision's badge ("Add budget"); UnknownTermError for a name the vocabulary does not know."""
    return DECISION_WORDS[Decision.of(decision)][0]


def decision_help(decision: Any) -> str:
    """What the decision asks of the marketer, in a sentence."""
    return DECISION_WORDS[Decision.of(decision)][1]


# What the terminal's night summary says per decision that acts on the account: "2 to pause".
_ACTED_WORDS = {Decision.PAUSE: "to pause", Decision.SCALE: "to add budget to"}


def live_boosts_line(watched: int, decisions: Iterable[Any]) -> str:
    """The night's live boosts in one line: "12 live boost(s) watched: 2 to pause, 1 to add budget to (...)"."""
    counts = Counter(Decision.of(d) for d in decisions)
    act = ", ".join(f"{counts[d]} {words}" for d, words in _ACTED_WORDS.items() if counts[d])
    return f"{watched} live boost(s) watched{': ' + act if act else ''} (the report's Live boosts section says why)."


def track_record_sentence(record: Mapping[str, Any] | None) -> str:
    """The model's track record in one line ("Last 60 days: predicted 0.42x your in-feed cost on average,
    realised 0.48x your in-feed cost; 77% inside the predicted range (31 finished boosts)."), or "" when there
    is nothing to say."""
    if not record:
        return ""
    days = f"{float(record.get('window_days') or 0):g}"
    n = int(record.get("count") or 0)
    if n == 0:
        return f"Last {days} days: no finished boost had a prediction from before it started."
    predicted, realised = log_cost_phrase(record.get("predicted_mean")), log_cost_phrase(record.get("realised_mean"))
    coverage = as_number(record.get("coverage"))
    inside = "" if coverage is None else f"; {coverage:.0%} inside the predicted range"
    boosts = "boost" if n == 1 else "boosts"
    return f"Last {days} days: predicted {predicted} on average, realised {realised}{inside} ({n} finished {boosts})."


def coverage_shortfall_sentence(coverage: float, count: int, promised: float) -> str:
    """Why retraining is due when too few boosts landed inside the predicted range (models/track_record.py)."""
    return (f"only {coverage:.0%} of the last {count} boosts landed inside the predicted range, where validation "
            f"promised {promised:.0%}")


def rank_shortfall_sentence(count: int) -> str:
    """Why retraining is due when the predictions ordered the boosts clearly worse than validation promised."""
    return (f"the predictions put the last {count} boosts in a clearly worse order than validation promised (the "
            "best-predicted boosts were often not the best realised)")


def retrain_sentence(record: Mapping[str, Any] | None) -> str:
    """"Retraining is due: ..." when the track record says so, else ""."""
    if not record or not record.get("retrain_due"):
        return ""
    why = "; ".join(str(w) for w in record.get("why") or ())
    return f"Retraining is due: {why}. Run `sparkpick train`." if why else "Retraining is due. Run `sparkpick train`."


@dataclass(frozen=True)
class LiveFacts:
    """What the monitor found about one live boost at T, for `live_reason` to put in words.

    `why` is the decision's ground: "no_baseline", "learning", "little_spend", "no_norms" (no verdict yet),
    "money" (pausing saves more than it risks, beyond the calibrated threshold), "proven" (the anytime-
    valid test proved it more expensive), "scale", "keep". Costs are Spark CPA / in-feed CPA; uplifts log(in-feed
    CPA / Spark CPA); amounts in the advertiser's `currency`.
    """

    decision: Decision
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
    money_watch_hours: float = math.inf  # the money rule watches the boost's first this-many hours
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
    stake = f"the next {money(f.stake, m)} ({span_phrase(f.stake_hours)} at this pace)"
    proven = (f"; proven more expensive (an anytime-valid test, {f.pause_confidence:.0%} sure however often it "
              "looks)" if f.proven_dearer else "")
    where = ""
    if f.calibration and f.why in ("money", "keep"):
        where = f" (pause rule calibrated on {f.calibration})"
    if f.why == "no_norms":
        return (f"{head}: {so_far}{expect}; fewer than {f.norms_min_boosts} finished boosts to learn TikTok's "
                "reporting delay from, so no pause or added budget yet: keep")
    if f.decision == Decision.PAUSE:
        worth = f"pausing now saves about {money(f.saving, m)} of {stake} at {log_cost_phrase(f.estimate)}"
        if f.why == "proven" and not f.calibration:
            worth += "; too few finished boosts to calibrate a pause rule on, so it pauses only what is proven"
        return f"{head}: {so_far}{pending}{expect}; {worth}{where}{proven}: pause"
    if f.decision == Decision.SCALE:
        proven_c = "; proven cheaper (an anytime-valid test)" if f.proven_cheaper else ""
        more = f.daily_spend * f.budget_step
        return (f"{head}: {so_far}{expect}; {chance_phrase(1 - f.prob_dearer)} sure it is cheaper than your in-feed ads"
                f"{proven_c}: add budget, {f.budget_step:.0%} more a day (about {money(more, m)} on "
                f"{money(f.daily_spend, m)} a day), at most once every {span_phrase(f.scale_every_hours)}")
    odds = (f"{chance_phrase(f.prob_dearer)} likely more expensive" if f.prob_dearer >= 0.5
            else f"{chance_phrase(1 - f.prob_dearer)} likely cheaper")
    if f.prob_dearer < 1 - f.scale_confidence and f.hours < f.learning_hours:
        odds += f"; more budget only after the learning phase ({f.learning_hours:.0f} h)"
    if not f.calibration:
        turn = "too few finished boosts to calibrate a pause rule on, so it pauses only when proven more expensive"
    elif f.hours > f.money_watch_hours:
        turn = f"past its first {span_phrase(f.money_watch_hours)}, it pauses only when proven more expensive"
    elif f.stake <= 0:
        turn = "no spend in the last 24 h, so nothing at stake"
    elif f.hint_conversions >= 0 and math.isfinite(f.hint_spend):
        fewer = ("brings no conversion" if f.hint_conversions == 0
                 else f"brings fewer than {conversions_phrase(f.hint_conversions + 1)}")
        turn = f"pause if the next {money(f.hint_spend, m)} {fewer}"
    else:
        turn = f"even {stake} without a conversion would not pause it"
    return f"{head}: {so_far}{pending}{expect}; {odds}; {turn}{where}: keep"
