"""What an action on the ad account came to, in a sentence (the actions log, `sparkpick launch`)."""

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
