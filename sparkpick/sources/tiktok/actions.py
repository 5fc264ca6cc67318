"""The one module that moves money: every write call to the TikTok API for Business goes through here.

`AccountActions` launches a pick as a Spark Ad, pauses an ad, raises an ad group's budget and undoes the
last two. Each call is logged in the warehouse's `actions` table (sparkpick/warehouse.py) in three steps:

1. an *intent* row, committed before the call: who asked (a person, the schedule, the approval flow), what,
   why, the state read before, the request body (the token is a header and is never in it);
2. the call, sent once (`TikTokClient.write`): throttling (40100, HTTP 429) and write conflicts (40202)
   wait and try again within `actions.max_attempts`; an answer that was lost or is ambiguous (timeout,
   5xx, 40050 duplicated request) is never resent blindly: the account is read back first;
3. the answer and the state read back after (`ad/get/`, `adgroup/get/`, `tt_video/info/`), which decide
   the row's status: `done` (read back as asked), `unexpected` (answered OK, but the account says
   otherwise), `reconciled` (the answer was lost but the account shows the change), `failed`.

A run killed between a call and its answer leaves an `intent` row; the next session reconciles it by
reading the account (`reconcile`), never by calling again, so a pick gets one ad and a budget one raise.
Ads and ad groups sparkpick creates are named `sparkpick <post_id>`: the account itself says whether a
pick was launched. Rows that plan without sending have status `planned` (a dry run, shadow mode); a rule
that stops an action gives `refused` with the reason (sparkpick/guardrails.py).

Statuses counted by the circuit breaker: `failed` and `unexpected`. The kill switch is checked before every
call, reads included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from sparkpick import guardrails
from sparkpick.config import AdvertiserActions, Settings
from sparkpick.errors import InputError, SparkpickError
from sparkpick.home import Home
from sparkpick.sources.tiktok.client import (
    PARTIAL_SUCCESS,
    TikTokApiError,
    TikTokClient,
    TikTokPermissionError,
    TikTokThrottledError,
    TikTokUncertainError,
)
from sparkpick.warehouse import add_action, read_actions, update_action

log = logging.getLogger(__name__)

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
# Statuses of the log (module docstring); the breaker counts FAILED and UNEXPECTED.
PLANNED, REFUSED, INTENT, DONE, UNEXPECTED, RECONCILED, NOT_APPLIED, FAILED = (
    "planned", "refused", "intent", "done", "unexpected", "reconciled", "not_applied", "failed")
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
    kind: str
    status: str
    reason: str = ""
    ad_id: str | None = None
    adgroup_id: str | None = None
    action_ids: list[int] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # planned (endpoint, body)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _amount(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class AccountActions:
    """Acting on the configured ad accounts, within the guardrails, with every call logged (module docstring).

    `mode`: "apply" sends; "dry_run" reads the account but sends no write (each write is logged `planned`);
    "shadow" sends nothing at all, reads included (`client` may be None). `clock` gives the wall-clock
    time of log rows (naive UTC); `as_of` is the decision time the guardrails use.
    """

    def __init__(self, client: TikTokClient | None, settings: Settings, home: Home, *, mode: Mode,
                 requested_by: str, run_id: str, as_of: pd.Timestamp,
                 clock: Callable[[], pd.Timestamp], sleep: Callable[[float], None] | None = None) -> None:
        if client is None and mode != "shadow":
            raise SparkpickError("Acting on the account needs a TikTok client unless in shadow mode.")
        self.client = client
        self.settings = settings
        self.cfg = settings.actions
        self.home = home
        self.mode = mode
        self.requested_by = requested_by
        self.run_id = run_id
        self.as_of = as_of
        self.clock = clock
        self._sleep = sleep or (client._sleep if client is not None else (lambda s: None))
        self._lock_s = settings.nightly.lock_timeout_s
        self._rows: pd.DataFrame | None = None  # the log as last read; dropped on every write

    # -- the log -------------------------------------------------------------------------------------
    def _log(self, advertiser_id: str, kind: str, status: str, *, post_id: str | None = None,
             reason: str = "", endpoint: str | None = None, request: dict[str, Any] | None = None,
             state_before: Any = None, ad_id: str | None = None, adgroup_id: str | None = None,
             note: str = "", undo_of: int | None = None) -> int:
        now = self.clock()
        self._rows = None
        return add_action(self.home.warehouse, {
            "run_id": self.run_id, "logged_at": now, "updated_at": now, "as_of": self.as_of,
            "advertiser_id": advertiser_id, "kind": kind, "post_id": post_id, "ad_id": ad_id,
            "adgroup_id": adgroup_id, "requested_by": self.requested_by, "reason": reason,
            "mode": self.mode, "status": status, "endpoint": endpoint, "request": _json(request),
            "state_before": _json(state_before), "note": note or None, "undo_of": undo_of,
        }, self._lock_s)

    def _finish(self, action_id: int, **fields: Any) -> None:
        for key in ("answer", "state_after"):
            if key in fields:
                fields[key] = _json(fields[key])
        self._rows = None
        update_action(self.home.warehouse, action_id, {**fields, "updated_at": self.clock()}, self._lock_s)

    def history(self) -> pd.DataFrame:
        """The actions log (read again after each write of this session)."""
        if self._rows is None:
            self._rows = read_actions(self.home.warehouse, self._lock_s)
        return self._rows

    def recent_failures(self, advertiser_id: str) -> int:
        return guardrails.recent_failures(self.history(), advertiser_id, self.as_of, self.cfg.circuit_breaker_hours)

    # -- checks before any call ------------------------------------------------------------------------
    def account(self, advertiser_id: str) -> AdvertiserActions:
        own = self.cfg.advertisers.get(advertiser_id)
        if own is None:
            raise InputError(f"Advertiser {advertiser_id} has no account settings: add it under "
                             "actions.advertisers in your config (campaign_id, adgroup_id, daily_budget_cap, "
                             "modes, identity_authorized_bc_id) before sparkpick may act on it.")
        return own

    def stopped(self, advertiser_id: str) -> str | None:
        """Why no call may be made for this advertiser now (kill switch, circuit breaker), or None."""
        killed = guardrails.kill_switch(self.cfg, (self.home.root / self.cfg.kill_file).exists())
        if not killed.allowed:
            return killed.why
        breaker = guardrails.circuit_breaker(self.cfg, self.recent_failures(advertiser_id))
        return None if breaker.allowed else breaker.why

    def _before_call(self, advertiser_id: str) -> None:
        why = self.stopped(advertiser_id)
        if why:
            raise ActionsStopped(f"Advertiser {advertiser_id}: {why}.")

    # -- reads -------------------------------------------------------------------------------------------
    def _read(self, advertiser_id: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.client is not None
        self._before_call(advertiser_id)
        try:
            return self.client.get(path, params)
        except TikTokPermissionError as exc:
            raise self._permission(exc, path) from exc

    def ads(self, advertiser_id: str, ad_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """The advertiser's ads (`ad/get/`), all pages, optionally only `ad_ids`."""
        params: dict[str, Any] = {"advertiser_id": advertiser_id, "fields": AD_FIELDS,
                                  "page_size": self.settings.tiktok.report_page_size}
        if ad_ids:
            params["filtering"] = {"ad_ids": ad_ids}
        out: list[dict[str, Any]] = []
        for page in range(1, self.settings.tiktok.max_pages + 1):
            data = self._read(advertiser_id, AD_GET, {**params, "page": page})
            items = [a for a in data.get("list") or [] if isinstance(a, dict)]
            out += [{k: ("" if a.get(k) is None else str(a.get(k))) for k in AD_FIELDS} for a in items]
            total = (data.get("page_info") or {}).get("total_page")
            if not items or total is None or page >= int(total):
                break
        return out

    def adgroups(self, advertiser_id: str, adgroup_ids: list[str] | None = None,
                 campaign_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"advertiser_id": advertiser_id, "fields": ADGROUP_FIELDS, "page": 1,
                                  "page_size": self.settings.tiktok.report_page_size}
        filtering: dict[str, Any] = {}
        if adgroup_ids:
            filtering["adgroup_ids"] = adgroup_ids
        if campaign_id:
            filtering["campaign_ids"] = [campaign_id]
        if filtering:
            params["filtering"] = filtering
        data = self._read(advertiser_id, ADGROUP_GET, params)
        return [g for g in data.get("list") or [] if isinstance(g, dict)]

    def spark_budget(self, advertiser_id: str, ads: list[dict[str, Any]] | None = None
                     ) -> tuple[float, dict[str, float]]:
        """(total daily budget of the ad groups holding an enabled Spark ad, budget per such ad group)."""
        ads = self.ads(advertiser_id) if ads is None else ads
        groups = sorted({a["adgroup_id"] for a in ads if a["tiktok_item_id"] and a["operation_status"] == ENABLE
                         and a["adgroup_id"]})
        budgets = {str(g["adgroup_id"]): _amount(g.get("budget")) or 0.0
                   for g in (self.adgroups(advertiser_id, groups) if groups else [])}
        return sum(budgets.values()), budgets

    def _authorisation(self, advertiser_id: str, post_id: str) -> dict[str, Any] | None:
        """The post's authorisation in the ad account (`tt_video/list/`), or None."""
        assert self.client is not None
        self._before_call(advertiser_id)
        for item in self.client.iter_pages(SPARK_LIST, {"advertiser_id": advertiser_id}):
            info = item.get("item_info") or {}
            if str(info.get("item_id", "")) == post_id:
                return item
        return None

    # -- one write -----------------------------------------------------------------------------------
    def _permission(self, exc: TikTokPermissionError, path: str) -> ActionPermissionError:
        return ActionPermissionError(
            f"The TikTok token lacks the permission for {path} (code {exc.code}): enable the scope "
            f"'{SCOPES.get(path, 'for this endpoint')}' on the TikTok app and re-authorise the advertiser "
            "(README, 'Acting on the account').")

    def _applied(self, advertiser_id: str, kind: str, request: dict[str, Any]) -> tuple[bool, Any]:
        """Whether the account shows `request` carried out, and the state read (the read-back)."""
        if kind == "create_ad":
            name = request["creatives"][0]["ad_name"]
            found = [a for a in self.ads(advertiser_id) if a["ad_name"] == name]
            return bool(found), found
        if kind == "create_adgroup":
            name = request["adgroup_name"]
            found = [g for g in self.adgroups(advertiser_id, campaign_id=request.get("campaign_id"))
                     if g.get("adgroup_name") == name]
            return bool(found), found
        if kind in ("enable_ad", "pause", "undo_pause"):
            found = self.ads(advertiser_id, list(request["ad_ids"]))
            wanted = request["operation_status"]
            return bool(found) and all(a["operation_status"] == wanted for a in found), found
        if kind in ("scale", "undo_scale"):
            found = self.adgroups(advertiser_id, [request["adgroup_id"]])
            budgets = [_amount(g.get("budget")) for g in found]
            return (bool(found) and all(b is not None and guardrails.cents(b) == guardrails.cents(request["budget"])
                                        for b in budgets)), found
        if kind == "authorize":
            info = self._read(advertiser_id, VIDEO_INFO, {"advertiser_id": advertiser_id,
                                                          "auth_code": request["auth_code"]})
            status = str((info.get("auth_info") or {}).get("ad_auth_status", ""))
            return status == "AUTHORIZED", info
        raise SparkpickError(f"No read-back for action kind {kind!r}")

    def _write(self, advertiser_id: str, kind: str, endpoint: str, body: dict[str, Any], *,
               post_id: str | None, reason: str, state_before: Any = None, ad_id: str | None = None,
               adgroup_id: str | None = None, undo_of: int | None = None) -> tuple[str, int, Any]:
        """Log the intent, send `body` once (module docstring), read back: (status, action id, state after).
        In a dry run or shadow mode the row is `planned` and nothing is sent."""
        common = {"post_id": post_id, "reason": reason, "endpoint": endpoint, "request": body,
                  "state_before": state_before, "ad_id": ad_id, "adgroup_id": adgroup_id, "undo_of": undo_of}
        if self.mode != "apply":
            return PLANNED, self._log(advertiser_id, kind, PLANNED, **common), None
        self._before_call(advertiser_id)
        action_id = self._log(advertiser_id, kind, INTENT, **common)
        assert self.client is not None
        notes: list[str] = []
        for attempt in range(self.cfg.max_attempts):
            if attempt:
                self._before_call(advertiser_id)
            try:
                code, data = self.client.write(endpoint, body)
            except TikTokThrottledError as exc:
                notes.append(str(exc))
                self._backoff(attempt)
                continue
            except TikTokUncertainError as exc:
                notes.append(str(exc))
                applied, state = self._read_back(advertiser_id, kind, body)
                if applied:
                    self._finish(action_id, status=RECONCILED, state_after=state, note="; ".join(
                        [*notes, "the account shows the change: not sent again"]))
                    return RECONCILED, action_id, state
                self._backoff(attempt)
                continue
            except TikTokPermissionError as exc:
                error = self._permission(exc, endpoint)
                self._finish(action_id, status=FAILED, note=str(error))
                raise error from exc
            except TikTokApiError as exc:
                self._finish(action_id, status=FAILED, note="; ".join([*notes, str(exc)]))
                return FAILED, action_id, None
            applied, state = self._read_back(advertiser_id, kind, body)
            if code == PARTIAL_SUCCESS:
                notes.append("TikTok answered partial success (20001)")
            status = DONE if applied else UNEXPECTED
            if not applied:
                notes.append("answered OK, but the account read back does not show the change")
            self._finish(action_id, status=status, answer={"code": code, "data": data}, state_after=state,
                         note="; ".join(notes) or None)
            return status, action_id, state
        self._finish(action_id, status=FAILED, note="; ".join(
            [*notes, f"no confirmed answer after {self.cfg.max_attempts} attempts (actions.max_attempts)"]))
        return FAILED, action_id, None

    def _read_back(self, advertiser_id: str, kind: str, body: dict[str, Any]) -> tuple[bool, Any]:
        last: Any = None
        for attempt in range(self.cfg.read_back_tries):
            try:
                return self._applied(advertiser_id, kind, body)
            except TikTokApiError as exc:
                if isinstance(exc, TikTokPermissionError):
                    raise
                last = str(exc)
                self._backoff(attempt)
        return False, {"read_back_failed": last}

    def _backoff(self, attempt: int) -> None:
        tk = self.settings.tiktok
        self._sleep(min(tk.backoff_s * 2**attempt, tk.max_backoff_s))

    # -- reconcile -------------------------------------------------------------------------------------
    def reconcile(self, advertiser_ids: Iterable[str] | None = None) -> list[int]:
        """Settle every `intent` row (a run killed between a call and its answer) by reading the account:
        `reconciled` when the change is there, `not_applied` when not. Returns the rows settled."""
        rows = self.history()
        pending = rows[rows["status"] == INTENT] if len(rows) else rows
        wanted = set(advertiser_ids) if advertiser_ids is not None else None
        settled = []
        for row in pending.to_dict("records"):
            adv = str(row["advertiser_id"])
            if wanted is not None and adv not in wanted:
                continue
            request = json.loads(row["request"])
            applied, state = self._read_back(adv, str(row["kind"]), request)
            self._finish(int(row["action_id"]), status=RECONCILED if applied else NOT_APPLIED, state_after=state,
                         note=("reconciled after an interrupted run: " + ("the account shows the change"
                               if applied else "the account does not show it (not sent again)")))
            settled.append(int(row["action_id"]))
        return settled

    # -- launch ------------------------------------------------------------------------------------------
    def launch(self, post_id: str, advertiser_id: str, daily_budget: float | None,
               adgroup_id: str | None = None, reason: str = "") -> Outcome:
        """Launch `post_id` as a Spark Ad: authorise, create it disabled, read it back, enable it.

        One ad per pick: an ad named `sparkpick <post_id>` already in the account is used, never doubled.
        """
        out = Outcome(post_id, advertiser_id, "launch", PLANNED)
        account = self.account(advertiser_id)
        refuse = self._refuser(out, reason)
        if self.mode == "shadow":
            raise SparkpickError("Launches are never shadowed: use a dry run (no --apply) to plan one.")
        if why := self.stopped(advertiser_id):
            return refuse(why)
        self.reconcile([advertiser_id])
        ads = self.ads(advertiser_id)
        mine = [a for a in ads if a["ad_name"] == marker(post_id)]
        others = [a for a in ads if a["tiktok_item_id"] == post_id and a["operation_status"] == ENABLE
                  and a["ad_name"] != marker(post_id)]
        if others:
            return refuse(f"post {post_id} is already live as ad {others[0]['ad_id']}, not made by sparkpick")
        if mine and mine[0]["operation_status"] == ENABLE:
            out.status, out.ad_id, out.adgroup_id = "launched", mine[0]["ad_id"], mine[0]["adgroup_id"]
            out.reason = f"already launched as ad {out.ad_id}"
            return out
        if mine and (paused := self._paused_by(mine[0]["ad_id"])) is not None:
            return refuse(f"ad {mine[0]['ad_id']} of post {post_id} was paused by action {paused}: a launch does not "
                          f"undo a pause (`sparkpick actions --undo {paused}` does)")
        # The authorisation, read back from the account before anything is built.
        auth = self._authorisation(advertiser_id, post_id)
        if auth is None:
            return refuse(f"post {post_id} has no Spark authorisation in ad account {advertiser_id} "
                          "(tt_video/list): ask the creator for a code")
        code = str((auth.get("item_info") or {}).get("auth_code", ""))
        # The code read first: a code that expired or a post deleted since the shortlist sends nothing.
        info = self._read(advertiser_id, VIDEO_INFO, {"advertiser_id": advertiser_id, "auth_code": code})
        if why := self._unusable(info, post_id):
            return refuse(why)
        identity = info.get("user_info") or {}
        identity_id = str(identity.get("identity_id", ""))
        # The ad group: the pick's own (found by name, or made), the given one, or the advertiser's.
        group_id = mine[0]["adgroup_id"] if mine else (adgroup_id or account.adgroup_id or "")
        total, budgets = self.spark_budget(advertiser_id, ads)
        if group_id:
            group = self.adgroups(advertiser_id, [group_id])
            if not group:
                return refuse(f"ad group {group_id} is not in ad account {advertiser_id}")
            # An ad group already holding an enabled Spark Ad is counted in the total already.
            added = 0.0 if group_id in budgets else (_amount(group[0].get("budget")) or 0.0)
        else:
            if daily_budget is None or not daily_budget > 0:
                raise InputError("A pick launched in a new ad group needs a daily budget (--daily-budget AMOUNT "
                                 f"> 0), or an ad group (--adgroup-id, or actions.advertisers.{advertiser_id}"
                                 ".adgroup_id).")
            added = daily_budget
        if not (cap := guardrails.within_cap(total, added, account.daily_budget_cap)).allowed:
            return refuse(cap.why)
        if not mine:
            # Every check passed: the first write binds the creator's code to the ad account.
            body = {"advertiser_id": advertiser_id, "auth_code": code}
            status, action_id, _ = self._write(advertiser_id, "authorize", AUTHORIZE, body, post_id=post_id,
                                               reason=reason)
            out.action_ids.append(action_id)
            out.calls.append((AUTHORIZE, body))
            if status not in (*APPLIED_STATUSES, PLANNED):
                return refuse("TikTok did not confirm the authorisation code (tt_video/authorize)", logged=True)
        if not group_id:
            body = self._adgroup_body(advertiser_id, account, post_id, float(daily_budget or 0))
            existing = [g for g in self.adgroups(advertiser_id, campaign_id=account.campaign_id)
                        if g.get("adgroup_name") == body["adgroup_name"]]
            if existing:
                group_id = str(existing[0]["adgroup_id"])
            else:
                status, action_id, state = self._write(advertiser_id, "create_adgroup", ADGROUP_CREATE, body,
                                                       post_id=post_id, reason=reason)
                out.action_ids.append(action_id)
                out.calls.append((ADGROUP_CREATE, body))
                if status == PLANNED:
                    group_id = "<new ad group>"
                elif status not in APPLIED_STATUSES:
                    return refuse("the ad group could not be created (see the log)", logged=True)
                else:
                    group_id = str(state[0]["adgroup_id"])
                    self._finish(action_id, adgroup_id=group_id)
        out.adgroup_id = group_id
        if not mine:
            creative = {"ad_name": marker(post_id), "ad_format": "SINGLE_VIDEO", "tiktok_item_id": post_id,
                        "identity_id": identity_id, "operation_status": DISABLE,
                        "identity_type": "BC_AUTH_TT" if account.identity_authorized_bc_id else "AUTH_CODE"}
            if account.identity_authorized_bc_id:
                creative["identity_authorized_bc_id"] = account.identity_authorized_bc_id
            body = {"advertiser_id": advertiser_id, "adgroup_id": group_id, "creatives": [creative]}
            status, action_id, state = self._write(advertiser_id, "create_ad", AD_CREATE, body, post_id=post_id,
                                                   reason=reason, adgroup_id=group_id)
            out.action_ids.append(action_id)
            out.calls.append((AD_CREATE, body))
            if status == PLANNED:
                ad = {"ad_id": "<new ad>", "operation_status": DISABLE, "tiktok_item_id": post_id}
            elif status not in APPLIED_STATUSES:
                return refuse("the ad could not be created (see the log)", logged=True)
            else:
                ad = state[0]
                self._finish(action_id, ad_id=ad["ad_id"])
        else:
            ad = mine[0]
        out.ad_id = ad["ad_id"]
        if self.mode == "apply" and (ad["tiktok_item_id"] != post_id or ad["operation_status"] != DISABLE):
            return refuse(f"ad {ad['ad_id']} read back as {ad}, not a disabled ad of post {post_id}: not enabled",
                          logged=True)
        body = {"advertiser_id": advertiser_id, "ad_ids": [ad["ad_id"]], "operation_status": ENABLE}
        status, action_id, _state = self._write(advertiser_id, "enable_ad", AD_STATUS, body, post_id=post_id,
                                                reason=reason, ad_id=ad["ad_id"], adgroup_id=group_id)
        out.action_ids.append(action_id)
        out.calls.append((AD_STATUS, body))
        out.status = {PLANNED: PLANNED, DONE: "launched", RECONCILED: "launched"}.get(status, FAILED)
        out.reason = {PLANNED: "planned (dry run): nothing sent", FAILED: "the ad could not be enabled (see the log)",
                      UNEXPECTED: "enabled, but the account does not show it enabled"}.get(status, reason)
        return out

    def _paused_by(self, ad_id: str) -> int | None:
        """The carried-out pause that left `ad_id` disabled (not undone since), or None."""
        rows = self.history()
        if rows.empty:
            return None
        mine = rows[(rows["ad_id"] == ad_id) & rows["kind"].isin(["pause", "undo_pause"])
                    & rows["status"].isin(APPLIED_STATUSES)]
        if mine.empty or mine.iloc[-1]["kind"] != "pause":
            return None
        return int(mine.iloc[-1]["action_id"])

    def _refuser(self, out: Outcome, reason: str) -> Callable[..., Outcome]:
        def refuse(why: str, logged: bool = False) -> Outcome:
            if not logged:
                out.action_ids.append(self._log(out.advertiser_id, out.kind, REFUSED, post_id=out.post_id,
                                                reason=reason, note=why))
            out.status, out.reason = (FAILED if logged else REFUSED), why
            return out
        return refuse

    def _unusable(self, info: dict[str, Any], post_id: str) -> str | None:
        """Why the read-back authorisation cannot carry an ad now (expired code, deleted post), or None."""
        item, auth = info.get("item_info") or {}, info.get("auth_info") or {}
        if not item:
            return f"post {post_id}: TikTok returned no item for its code (deleted?)"
        if str(item.get("item_id", "")) != post_id:
            return f"post {post_id}: its code now points at item {item.get('item_id')!r}"
        if str(item.get("status", "ok")).lower() not in ("ok", "", "normal"):
            return f"post {post_id} is no longer available on TikTok (status {item.get('status')!r})"
        status = str(auth.get("ad_auth_status", ""))
        if status != "AUTHORIZED":
            return f"post {post_id}: its Spark authorisation is {status.lower() or 'missing'}, not authorised"
        end = pd.to_datetime(auth.get("auth_end_time"), errors="coerce")
        if pd.notna(end) and end <= self.as_of:
            return f"post {post_id}: its Spark authorisation code expired at {end:%Y-%m-%d %H:%M}"
        return None

    def _adgroup_body(self, advertiser_id: str, account: AdvertiserActions, post_id: str,
                      budget: float) -> dict[str, Any]:
        new = self.cfg.new_adgroup
        body: dict[str, Any] = {
            "advertiser_id": advertiser_id, "campaign_id": account.campaign_id, "adgroup_name": marker(post_id),
            "budget_mode": "BUDGET_MODE_DAY", "budget": guardrails.cents(budget),
            "billing_event": new.billing_event, "optimization_goal": new.optimization_goal,
            "optimization_event": new.optimization_event, "pacing": new.pacing,
            "placement_type": new.placement_type, "location_ids": list(new.location_ids),
            "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": f"{self.as_of:%Y-%m-%d %H:%M:%S}",
        }
        if new.pixel_id:
            body["pixel_id"] = new.pixel_id
        return body

    # -- the monitor's decisions -----------------------------------------------------------------------
    def _live_ad(self, advertiser_id: str, post_id: str) -> dict[str, Any] | None:
        ads = [a for a in self.ads(advertiser_id) if a["tiktok_item_id"] == post_id]
        ads.sort(key=lambda a: (a["operation_status"] != ENABLE, a["ad_name"] != marker(post_id)))
        return ads[0] if ads else None

    def _known_ad(self, advertiser_id: str, post_id: str) -> str | None:
        """The ad the log knows for this post (shadow mode reads nothing from the account)."""
        rows = self.history()
        if rows.empty:
            return None
        known = rows[(rows["advertiser_id"] == advertiser_id) & (rows["post_id"] == post_id) & rows["ad_id"].notna()
                     & rows["status"].isin(APPLIED_STATUSES)]
        return str(known["ad_id"].iloc[-1]) if len(known) else None

    def _shadow(self, out: Outcome, endpoint: str, reason: str, body_for: Callable[[str], dict[str, Any]]) -> Outcome:
        """Shadow mode: the call planned and logged with no request of any kind (the ad as the log knows it)."""
        ad_id = self._known_ad(out.advertiser_id, out.post_id) or f"<the live ad of post {out.post_id}>"
        body = body_for(ad_id)
        out.action_ids.append(self._write(out.advertiser_id, out.kind, endpoint, body, post_id=out.post_id,
                                          reason=reason, ad_id=ad_id)[1])
        out.calls.append((endpoint, body))
        out.reason = "shadow mode: planned, not sent"
        return out

    def pause(self, post_id: str, advertiser_id: str, spend: float, reason: str) -> Outcome:
        """Disable the live ad of `post_id` (`ad/status/update/` DISABLE) once it has spent enough."""
        out = Outcome(post_id, advertiser_id, "pause", PLANNED)
        self.account(advertiser_id)
        refuse = self._refuser(out, reason)
        if not (due := guardrails.pause_due(spend, self.cfg.min_spend_before_pause)).allowed:
            return refuse(due.why)
        if self.mode == "shadow":
            return self._shadow(out, AD_STATUS, reason, lambda ad_id: {
                "advertiser_id": advertiser_id, "ad_ids": [ad_id], "operation_status": DISABLE})
        if why := self.stopped(advertiser_id):
            return refuse(why)
        self.reconcile([advertiser_id])
        ad = self._live_ad(advertiser_id, post_id)
        if ad is None:
            return refuse(f"no ad of post {post_id} in ad account {advertiser_id}")
        out.ad_id, out.adgroup_id = ad["ad_id"], ad["adgroup_id"]
        if ad["operation_status"] != ENABLE:
            out.status, out.reason = "already", f"ad {ad['ad_id']} is already {ad['operation_status'].lower()}d"
            return out
        body = {"advertiser_id": advertiser_id, "ad_ids": [ad["ad_id"]], "operation_status": DISABLE}
        status, action_id, _ = self._write(advertiser_id, "pause", AD_STATUS, body, post_id=post_id, reason=reason,
                                           state_before=ad, ad_id=ad["ad_id"], adgroup_id=ad["adgroup_id"])
        out.action_ids.append(action_id)
        out.calls.append((AD_STATUS, body))
        out.status = status
        return out

    def scale(self, post_id: str, advertiser_id: str, reason: str, proposed_share: float | None = None) -> Outcome:
        """Raise the daily budget of the live ad's ad group (`adgroup/update/`) within the guardrails."""
        out = Outcome(post_id, advertiser_id, "scale", PLANNED)
        account = self.account(advertiser_id)
        refuse = self._refuser(out, reason)
        share = self.cfg.budget_step_max_share
        share = min(share, proposed_share) if proposed_share else share
        if self.mode == "shadow":
            return self._shadow(out, ADGROUP_UPDATE, reason, lambda ad_id: {
                "advertiser_id": advertiser_id, "adgroup_id": f"<the ad group of ad {ad_id}>",
                "budget": f"<its budget x {1 + share:g}, within the cap of {account.daily_budget_cap:g}>"})
        if why := self.stopped(advertiser_id):
            return refuse(why)
        self.reconcile([advertiser_id])
        ads = self.ads(advertiser_id)
        live = [a for a in ads if a["tiktok_item_id"] == post_id and a["operation_status"] == ENABLE]
        if not live:
            return refuse(f"no enabled ad of post {post_id} in ad account {advertiser_id}")
        ad = live[0]
        out.ad_id, out.adgroup_id = ad["ad_id"], ad["adgroup_id"]
        if not (due := guardrails.budget_change_due(self._last_budget_change(ad["adgroup_id"]), self.as_of,
                                                    self.cfg.budget_step_min_hours)).allowed:
            return refuse(f"ad group {ad['adgroup_id']}: {due.why}")
        total, budgets = self.spark_budget(advertiser_id, ads)
        current = budgets.get(ad["adgroup_id"])
        if current is None:
            return refuse(f"ad group {ad['adgroup_id']} has no daily budget to raise")
        step = guardrails.budget_raise(current, total, account.daily_budget_cap, self.cfg.budget_step_max_share,
                                       proposed_share)
        if not step.verdict.allowed or step.new_budget is None:
            return refuse(step.verdict.why)
        body = {"advertiser_id": advertiser_id, "adgroup_id": ad["adgroup_id"], "budget": step.new_budget}
        status, action_id, _ = self._write(advertiser_id, "scale", ADGROUP_UPDATE, body, post_id=post_id,
                                           reason=reason, state_before={"budget": current, "spark_total": total},
                                           ad_id=ad["ad_id"], adgroup_id=ad["adgroup_id"])
        out.action_ids.append(action_id)
        out.calls.append((ADGROUP_UPDATE, body))
        out.status = status
        return out

    def _last_budget_change(self, adgroup_id: str) -> pd.Timestamp | None:
        rows = self.history()
        if rows.empty:
            return None
        done = rows[(rows["adgroup_id"] == adgroup_id) & rows["kind"].isin(["scale", "undo_scale"])
                    & rows["status"].isin([*APPLIED_STATUSES, INTENT, UNEXPECTED])]
        return pd.Timestamp(done["logged_at"].max()) if len(done) else None

    # -- undo --------------------------------------------------------------------------------------------
    def undo(self, action_id: int, reason: str = "") -> Outcome:
        """Revert a pause (enable the ad again) or a budget change (back to the budget before), if the
        account still shows what the action left; the undo is itself logged (`undo_of`)."""
        rows = self.history()
        match = rows[rows["action_id"] == action_id] if len(rows) else rows
        if match.empty:
            raise InputError(f"No action {action_id} in the actions log (see `sparkpick actions`).")
        row = match.iloc[0].to_dict()
        adv, kind = str(row["advertiser_id"]), str(row["kind"])
        if kind not in ("pause", "scale") or row["status"] not in APPLIED_STATUSES:
            raise InputError(f"Action {action_id} is a {kind} that is {row['status']}: only a carried-out pause "
                             "or budget change can be undone.")
        if (undone := rows[(rows["undo_of"] == action_id) & rows["status"].isin(APPLIED_STATUSES)]).shape[0]:
            raise InputError(f"Action {action_id} was already undone by action {int(undone['action_id'].iloc[0])}.")
        out = Outcome(str(row["post_id"]), adv, f"undo_{kind}", PLANNED)
        refuse = self._refuser(out, reason)
        if why := self.stopped(adv):
            return refuse(why)
        self.reconcile([adv])
        request = json.loads(row["request"])
        if kind == "pause":
            ad = self.ads(adv, list(request["ad_ids"]))
            if not ad or ad[0]["operation_status"] != DISABLE:
                return refuse(f"ad {request['ad_ids'][0]} is no longer disabled: nothing to undo")
            body = {"advertiser_id": adv, "ad_ids": list(request["ad_ids"]), "operation_status": ENABLE}
            status, new_id, _ = self._write(adv, "undo_pause", AD_STATUS, body, post_id=out.post_id, reason=reason,
                                            state_before=ad, ad_id=ad[0]["ad_id"], undo_of=action_id)
        else:
            before = json.loads(row["state_before"])["budget"]
            group = self.adgroups(adv, [request["adgroup_id"]])
            now = _amount(group[0].get("budget")) if group else None
            if now is None or guardrails.cents(now) != guardrails.cents(request["budget"]):
                return refuse(f"ad group {request['adgroup_id']}'s budget is now {now}, not the {request['budget']} "
                              "this action set: changed since, not undone")
            body = {"advertiser_id": adv, "adgroup_id": request["adgroup_id"], "budget": guardrails.cents(before)}
            status, new_id, _ = self._write(adv, "undo_scale", ADGROUP_UPDATE, body, post_id=out.post_id,
                                            reason=reason, state_before=group, adgroup_id=request["adgroup_id"],
                                            undo_of=action_id)
        out.action_ids.append(new_id)
        out.calls.append((AD_STATUS if kind == "pause" else ADGROUP_UPDATE, body))
        out.status = status
        return out
