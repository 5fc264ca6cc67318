"""The words of acting on an account: endpoints and their scopes, log statuses, outcomes, errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sparkpick.errors import InputError, SparkpickError
from sparkpick.vocabulary import ActionKind, ActionStatus

# The endpoints, reads then writes.
AD_GET = "ad/get/"
ADGROUP_GET = "adgroup/get/"
SPARK_LIST = "tt_video/list/"
VIDEO_INFO = "tt_video/info/"
AUTHORIZE = "tt_video/authorize/"
AD_CREATE = "ad/create/"
AD_STATUS = "ad/status/update/"
ADGROUP_CREATE = "adgroup/create/"
ADGROUP_UPDATE = "adgroup/update/"
# What a brand enables on its TikTok app (Developer portal > My apps > scopes) for each endpoint; the
# README's "Acting on the account" lists them per mode.
SCOPES = {
    AD_GET: "Ads Management (read)", ADGROUP_GET: "Ads Management (read)",
    SPARK_LIST: "Creative Management (Spark Ads authorisations)",
    VIDEO_INFO: "Creative Management (Spark Ads authorisations)",
    AUTHORIZE: "Creative Management (Spark Ads authorisations)",
    AD_CREATE: "Ads Management (write)", AD_STATUS: "Ads Management (write)",
    ADGROUP_CREATE: "Ads Management (write)", ADGROUP_UPDATE: "Ads Management (write)",
}
AD_FIELDS = ["ad_id", "adgroup_id", "ad_name", "tiktok_item_id", "identity_type", "identity_id",
             "operation_status"]
ADGROUP_FIELDS = ["adgroup_id", "adgroup_name", "campaign_id", "budget", "operation_status"]
ENABLE, DISABLE = "ENABLE", "DISABLE"
# Statuses of the log (sparkpick.vocabulary.ActionStatus); the breaker counts FAILED and UNEXPECTED.
PLANNED, REFUSED, INTENT, DONE, UNEXPECTED, RECONCILED, NOT_APPLIED, FAILED = (
    ActionStatus.PLANNED, ActionStatus.REFUSED, ActionStatus.INTENT, ActionStatus.DONE, ActionStatus.UNEXPECTED,
    ActionStatus.RECONCILED, ActionStatus.NOT_APPLIED, ActionStatus.FAILED)
APPLIED_STATUSES = (DONE, RECONCILED)
Mode = Literal["apply", "dry_run", "shadow"]


def marker(post_id: str) -> str:
    """The name of the ad (and of its own ad group) sparkpick makes for a pick: one per post."""
    return f"sparkpick {post_id}"


class ActionsStopped(SparkpickError):
    """The kill switch was found on (or the circuit breaker open) before a call: nothing more is sent."""


class ActionPermissionError(InputError):
    """The token lacks a permission or scope for a write endpoint (the message names it)."""


@dataclass
class Outcome:
    """What one action came to: its status, the reason in words, the log rows it wrote."""

    post_id: str
    advertiser_id: str
    kind: ActionKind
    status: ActionStatus
    reason: str = ""
    ad_id: str | None = None
    adgroup_id: str | None = None
    action_ids: list[int] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # planned (endpoint, body)


def as_json(value: Any) -> str | None:
    """A value as the log stores it: sorted JSON, None kept."""
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def amount(value: Any) -> float | None:
    """A budget as the API gives it (string or number) as a float, or None when unreadable."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
