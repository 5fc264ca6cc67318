"""Acting on the ad account in a marketer's words: what an action came to (the actions log, `sparkpick launch`),
why actions are stopped, and the approval form's fields."""

from __future__ import annotations

from typing import Any

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
