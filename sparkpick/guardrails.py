"""The money guardrails: pure rules that say whether an action on the ad account may go ahead, and how far.

Nothing here calls anything: the figures (budgets, spend, past changes, failures) come in as arguments, and
each rule answers with the amount allowed or a refusal in words that name the setting behind it
(`actions.*` in configs/default.yaml; the sentences are in sparkpick/wording/actions.py).
`sparkpick/sources/tiktok/actions/` asks these before every call.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sparkpick import wording as words
from sparkpick.config import ActionsConfig
from sparkpick.vocabulary import ActionStatus

# Statuses of the actions log that count against the circuit breaker: calls that failed, and calls answered
# OK whose read-back did not show the change.
BREAKER_STATUSES = (ActionStatus.FAILED, ActionStatus.UNEXPECTED)
# Budgets are sent and compared in cents: a float that rounds differently must not look like a change.
CENT = 0.01


@dataclass(frozen=True)
class Verdict:
    """Whether an action may go ahead; `why` says why not (a sentence naming the setting)."""

    allowed: bool
    why: str = ""

    @classmethod
    def ok(cls) -> Verdict:
        return cls(True)

    @classmethod
    def no(cls, why: str) -> Verdict:
        return cls(False, why)


@dataclass(frozen=True)
class BudgetStep:
    """A budget raise: the new daily budget, or a refusal."""

    verdict: Verdict
    new_budget: float | None = None


def cents(amount: float) -> float:
    return round(float(amount) + 1e-9, 2)


def kill_switch(cfg: ActionsConfig, kill_file_present: bool) -> Verdict:
    """The kill switch: `actions.enabled: false`, or the kill file in the home, stops every call."""
    if not cfg.enabled:
        return Verdict.no(words.actions_off_sentence())
    if kill_file_present:
        return Verdict.no(words.kill_switch_sentence(cfg.kill_file))
    return Verdict.ok()


def circuit_breaker(cfg: ActionsConfig, recent_failures: int) -> Verdict:
    """Open after `actions.circuit_breaker_failures` failed or unexpected calls in the window."""
    if recent_failures >= cfg.circuit_breaker_failures:
        return Verdict.no(words.breaker_open_sentence(recent_failures, cfg.circuit_breaker_hours,
                                                      cfg.circuit_breaker_failures))
    return Verdict.ok()


def recent_failures(log: pd.DataFrame, advertiser_id: str, as_of: pd.Timestamp, hours: float) -> int:
    """Failed or unexpected calls for `advertiser_id` in the actions `log` within `hours` before `as_of`."""
    if log.empty:
        return 0
    mine = log[(log["advertiser_id"] == advertiser_id) & log["status"].isin(BREAKER_STATUSES)]
    return int((pd.to_datetime(mine["logged_at"]) >= as_of - pd.Timedelta(hours=hours)).sum())


def within_cap(total_now: float, added: float, cap: float) -> Verdict:
    """A launch that adds `added` to the advertiser's daily Spark budget `total_now` must stay within `cap`."""
    if cents(total_now + added) > cents(cap) + CENT / 2:
        return Verdict.no(words.over_cap_sentence(cents(total_now + added), cents(cap), cents(total_now)))
    return Verdict.ok()


def budget_raise(current: float, total_now: float, cap: float, max_share: float,
                 proposed_share: float | None = None) -> BudgetStep:
    """The raised daily budget of one ad group: at most `max_share` (or the monitor's smaller proposed
    share) above `current`, and never taking the advertiser's total (`total_now` includes `current`)
    above `cap`."""
    share = max_share if proposed_share is None or not proposed_share > 0 else min(max_share, proposed_share)
    wanted = cents(current * (1 + share))
    room = cents(cap - (total_now - current))
    target = min(wanted, room)
    if target < cents(current) + CENT:
        return BudgetStep(Verdict.no(words.at_cap_sentence(cents(cap), cents(total_now))))
    return BudgetStep(Verdict.ok(), target)


def budget_change_due(last_change: pd.Timestamp | None, as_of: pd.Timestamp, min_hours: float) -> Verdict:
    """An ad group's budget changes at most once in `actions.budget_step_min_hours`."""
    if last_change is not None and as_of - last_change < pd.Timedelta(hours=min_hours):
        return Verdict.no(words.budget_changed_recently_sentence(last_change, min_hours))
    return Verdict.ok()


def pause_due(spend: float, min_spend: float) -> Verdict:
    """No pause before the boost has spent `actions.min_spend_before_pause`."""
    if not spend >= min_spend:
        return Verdict.no(words.too_little_spend_sentence(cents(spend or 0), cents(min_spend)))
    return Verdict.ok()
