"""Launching a pick as a Spark Ad: one ad per post, every check before the first write."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sparkpick import guardrails
from sparkpick.config import AdvertiserActions
from sparkpick.errors import InputError, SparkpickError
from sparkpick.sources.tiktok.actions.calls import AccountCalls
from sparkpick.sources.tiktok.actions.terms import (
    AD_CREATE,
    AD_STATUS,
    ADGROUP_CREATE,
    APPLIED_STATUSES,
    AUTHORIZE,
    DISABLE,
    DONE,
    ENABLE,
    FAILED,
    PLANNED,
    RECONCILED,
    UNEXPECTED,
    VIDEO_INFO,
    Outcome,
    amount,
    marker,
)
from sparkpick.vocabulary import ActionKind, ActionStatus


class Launcher(AccountCalls):
    """Launching a pick as a Spark Ad: authorise, create it disabled, read it back, enable it."""

    # -- launch ------------------------------------------------------------------------------------------
    def launch(self, post_id: str, advertiser_id: str, daily_budget: float | None,
               adgroup_id: str | None = None, reason: str = "") -> Outcome:
        """Launch `post_id` as a Spark Ad: authorise, create it disabled, read it back, enable it.

        One ad per pick: an ad named `sparkpick <post_id>` already in the account is used, never doubled.
        """
        out = Outcome(post_id, advertiser_id, ActionKind.LAUNCH, PLANNED)
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
            out.status, out.ad_id, out.adgroup_id = ActionStatus.LAUNCHED, mine[0]["ad_id"], mine[0]["adgroup_id"]
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
            added = 0.0 if group_id in budgets else (amount(group[0].get("budget")) or 0.0)
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
            body: dict[str, Any] = {"advertiser_id": advertiser_id, "auth_code": code}
            status, action_id, _ = self._write(advertiser_id, ActionKind.AUTHORIZE, AUTHORIZE, body, post_id=post_id,
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
                status, action_id, state = self._write(advertiser_id, ActionKind.CREATE_ADGROUP, ADGROUP_CREATE, body,
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
            status, action_id, state = self._write(advertiser_id, ActionKind.CREATE_AD, AD_CREATE, body,
                                                   post_id=post_id, reason=reason, adgroup_id=group_id)
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
        status, action_id, _state = self._write(advertiser_id, ActionKind.ENABLE_AD, AD_STATUS, body, post_id=post_id,
                                                reason=reason, ad_id=ad["ad_id"], adgroup_id=group_id)
        out.action_ids.append(action_id)
        out.calls.append((AD_STATUS, body))
        launched = ActionStatus.LAUNCHED
        out.status = {PLANNED: PLANNED, DONE: launched, RECONCILED: launched}.get(status, FAILED)
        out.reason = {PLANNED: "planned (dry run): nothing sent", FAILED: "the ad could not be enabled (see the log)",
                      UNEXPECTED: "enabled, but the account does not show it enabled"}.get(status, reason)
        return out

    def _paused_by(self, ad_id: str) -> int | None:
        """The carried-out pause that left `ad_id` disabled (not undone since), or None."""
        rows = self.history()
        if rows.empty:
            return None
        mine = rows[(rows["ad_id"] == ad_id) & rows["kind"].isin([ActionKind.PAUSE, ActionKind.UNDO_PAUSE])
                    & rows["status"].isin(APPLIED_STATUSES)]
        if mine.empty or mine.iloc[-1]["kind"] != ActionKind.PAUSE:
            return None
        return int(mine.iloc[-1]["action_id"])

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
