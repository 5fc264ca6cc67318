"""Acting on the ad account in a marketer's words: what an action came to (the actions log, `sparkpick launch`),
why actions are stopped or refused (the guardrails), the approval form's fields and the report's approval badge."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sparkpick.vocabulary import ActionKind, ActionStatus, require_words
from sparkpick.wording.conventions import money

# What an action on the ad account came to, in words (the actions log and `sparkpick launch`). Every kind and
# status has its words; an unknown one fails loudly (UnknownTermError), never shows its raw name.
ACTION_KINDS: dict[ActionKind, str] = require_words(ActionKind, {
    ActionKind.LAUNCH: "launch", ActionKind.AUTHORIZE: "authorise the code",
    ActionKind.CREATE_ADGROUP: "create the ad group", ActionKind.CREATE_AD: "create the ad (disabled)",
    ActionKind.ENABLE_AD: "enable the ad", ActionKind.PAUSE: "pause", ActionKind.SCALE: "raise the budget",
    ActionKind.UNDO_PAUSE: "undo a pause", ActionKind.UNDO_SCALE: "undo a budget change",
    ActionKind.APPROVAL: "approval",
})
ACTION_STATUSES: dict[ActionStatus, str] = require_words(ActionStatus, {
    ActionStatus.LAUNCHED: "launched", ActionStatus.PLANNED: "planned, not sent", ActionStatus.REFUSED: "refused",
    ActionStatus.DONE: "done, read back", ActionStatus.RECONCILED: "done (answer lost; the account shows it)",
    ActionStatus.INTENT: "sent, answer not yet recorded",
    ActionStatus.NOT_APPLIED: "not done (the account does not show it)",
    ActionStatus.UNEXPECTED: "answered OK, but the account does not show it", ActionStatus.FAILED: "failed",
    ActionStatus.ALREADY: "nothing to do", ActionStatus.WAITING: "waiting for a person's answer",
    ActionStatus.APPROVED: "approved", ActionStatus.DECLINED: "declined",
    ActionStatus.EXPIRED: "expired, nothing approved in time",
})


def action_sentence(kind: str, post_id: Any, status: str, reason: Any = "", ad_id: Any = None) -> str:
    """One action in a sentence: `Post 123: launch - launched (ad 456). why`; UnknownTermError for a kind or
    status the vocabulary does not know."""
    what = ACTION_KINDS[ActionKind.of(kind)]
    ad = f" (ad {ad_id})" if isinstance(ad_id, str) and ad_id and not ad_id.startswith("<") else ""
    why = f". {reason}" if isinstance(reason, str) and reason.strip() else ""
    return f"Post {post_id}: {what} - {ACTION_STATUSES[ActionStatus.of(status)]}{ad}{why}"


def actions_stopped_sentence(advertiser_id: Any, why: Any) -> str:
    """"Actions stopped for advertiser 123: <why>" (the kill switch, the circuit breaker), in the report's notes
    and after the monitor's decisions alike."""
    return f"Actions stopped for advertiser {advertiser_id}: {why}"


def recommendations_sentence(count: int) -> str:
    """The monitor's decisions that `actions.modes: recommend` leaves to a person."""
    return f"{count} decision(s) left as recommendations (actions.modes: recommend)"


def approval_field_texts(advertiser_id: Any, rank: int, post_id: Any) -> tuple[str, str]:
    """The approval form's two descriptions of one pick: its tick box and its daily budget."""
    where = f"advertiser {advertiser_id}, pick #{rank}, post {post_id}"
    return f"Launch {where}", f"Daily budget for {where}"


# What became of a shortlist pick on the ad account: the report's "Approval" badge (flows/approval.py).
APPROVAL_BADGES: dict[ActionStatus, str] = {
    ActionStatus.WAITING: "waiting", ActionStatus.EXPIRED: "expired", ActionStatus.APPROVED: "approved",
    ActionStatus.DECLINED: "declined", ActionStatus.LAUNCHED: "launched", ActionStatus.REFUSED: "refused",
}
# A ready pick of an advertiser sparkpick may act on, not offered for approval yet.
AWAITING_APPROVAL = "awaiting approval"


def approval_badge(status: Any, why: Any = "") -> str:
    """The badge of a pick whose latest approval state is `status` ("refused: <why>" for a refused launch);
    UnknownTermError for a status the vocabulary does not know, KeyError for one no pick ends in."""
    state = ActionStatus.of(status)
    words = APPROVAL_BADGES[state]
    reason = str(why or "").strip()
    return f"{words}: {reason}" if state == ActionStatus.REFUSED and reason else words


# The guardrails' refusals (sparkpick/guardrails.py), each naming the setting behind it. Budgets are in the
# ad account's currency, as the settings give them: bare amounts to the cent, as `money` writes them then.
def actions_off_sentence() -> str:
    return "actions are switched off (actions.enabled is false): no call is made"


def kill_switch_sentence(kill_file: str) -> str:
    return f"the kill switch is on (the file {kill_file} is in the home): no call is made; remove it to resume"


def breaker_open_sentence(failures: int, hours: float, limit: int) -> str:
    return (f"the circuit breaker is open: {failures} failed or unexpected calls in the last {hours:g} h "
            f"(actions.circuit_breaker_failures = {limit}); look at `sparkpick actions`, fix the cause, and it "
            "closes once they are older than the window")


def over_cap_sentence(total_after: float, cap: float, in_use: float, currency: Any = None) -> str:
    return (f"it would take the daily Spark budget to {money(total_after, currency, exact=True)}, above the cap of "
            f"{money(cap, currency, exact=True)} (actions.advertisers.<id>.daily_budget_cap; "
            f"{money(in_use, currency, exact=True)} in use)")


def at_cap_sentence(cap: float, in_use: float, currency: Any = None) -> str:
    return (f"the daily Spark budget is at its cap of {money(cap, currency, exact=True)} "
            f"({money(in_use, currency, exact=True)} in use; actions.advertisers.<id>.daily_budget_cap): no raise")


def budget_changed_recently_sentence(last_change: pd.Timestamp, min_hours: float) -> str:
    return (f"its budget was changed at {last_change:%Y-%m-%d %H:%M} UTC, less than {min_hours:g} h ago "
            "(actions.budget_step_min_hours)")


def budget_changed_since_sentence(adgroup_id: Any, now: float | None, set_to: float, currency: Any = None) -> str:
    """Why an undo of a budget change is refused: the ad group's budget is no longer the one the change set."""
    shown = "unreadable" if now is None else money(now, currency, exact=True)
    return (f"ad group {adgroup_id}'s budget is now {shown}, not the {money(set_to, currency, exact=True)} this "
            "action set: changed since, not undone")


def approved_budget_note(budget: float, currency: Any = None) -> str:
    """The actions log's note on an approved pick: the daily budget the person approved."""
    return f"daily budget {money(budget, currency, exact=True)}"


def too_little_spend_sentence(spend: float, min_spend: float, currency: Any = None) -> str:
    spent, needed = money(spend, currency, exact=True), money(min_spend, currency, exact=True)
    return f"it has spent {spent}, less than the {needed} needed before any pause (actions.min_spend_before_pause)"
