"""The monitor's decisions on a live ad (pause, scale) and their undo: `AccountActions`, the whole door."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from sparkpick import guardrails
from sparkpick.errors import InputError
from sparkpick.sources.tiktok.actions.launch import Launcher
from sparkpick.sources.tiktok.actions.terms import (
    AD_STATUS,
    ADGROUP_UPDATE,
    APPLIED_STATUSES,
    DISABLE,
    ENABLE,
    INTENT,
    PLANNED,
    UNEXPECTED,
    Outcome,
    amount,
    marker,
)
from sparkpick.vocabulary import ActionKind, ActionStatus
from sparkpick.wording import budget_changed_since_sentence


class AccountActions(Launcher):
    """Acting on the configured ad accounts, within the guardrails, with every call logged (the package docstring).

    `mode`: "apply" sends; "dry_run" reads the account but sends no write (each write is logged `planned`);
    "shadow" sends nothing at all, reads included (`client` may be None). `clock` gives the wall-clock
    time of log rows (naive UTC); `as_of` is the decision time the guardrails use.
    """

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
        out = Outcome(post_id, advertiser_id, ActionKind.PAUSE, PLANNED)
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
            out.status = ActionStatus.ALREADY
            out.reason = f"ad {ad['ad_id']} is already {ad['operation_status'].lower()}d"
            return out
        body = {"advertiser_id": advertiser_id, "ad_ids": [ad["ad_id"]], "operation_status": DISABLE}
        status, action_id, _ = self._write(advertiser_id, ActionKind.PAUSE, AD_STATUS, body, post_id=post_id,
                                           reason=reason, state_before=ad, ad_id=ad["ad_id"],
                                           adgroup_id=ad["adgroup_id"])
        out.action_ids.append(action_id)
        out.calls.append((AD_STATUS, body))
        out.status = status
        return out

    def scale(self, post_id: str, advertiser_id: str, reason: str, proposed_share: float | None = None) -> Outcome:
        """Raise the daily budget of the live ad's ad group (`adgroup/update/`) within the guardrails."""
        out = Outcome(post_id, advertiser_id, ActionKind.SCALE, PLANNED)
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
        status, action_id, _ = self._write(advertiser_id, ActionKind.SCALE, ADGROUP_UPDATE, body, post_id=post_id,
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
        done = rows[(rows["adgroup_id"] == adgroup_id) & rows["kind"].isin([ActionKind.SCALE, ActionKind.UNDO_SCALE])
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
        adv, kind = str(row["advertiser_id"]), ActionKind.of(row["kind"])
        if kind not in (ActionKind.PAUSE, ActionKind.SCALE) or row["status"] not in APPLIED_STATUSES:
            raise InputError(f"Action {action_id} is a {kind} that is {row['status']}: only a carried-out pause "
                             "or budget change can be undone.")
        if (undone := rows[(rows["undo_of"] == action_id) & rows["status"].isin(APPLIED_STATUSES)]).shape[0]:
            raise InputError(f"Action {action_id} was already undone by action {int(undone['action_id'].iloc[0])}.")
        out = Outcome(str(row["post_id"]), adv, ActionKind(f"undo_{kind}"), PLANNED)
        refuse = self._refuser(out, reason)
        if why := self.stopped(adv):
            return refuse(why)
        self.reconcile([adv])
        request = json.loads(row["request"])
        if kind == ActionKind.PAUSE:
            ad = self.ads(adv, list(request["ad_ids"]))
            if not ad or ad[0]["operation_status"] != DISABLE:
                return refuse(f"ad {request['ad_ids'][0]} is no longer disabled: nothing to undo")
            body: dict[str, Any] = {"advertiser_id": adv, "ad_ids": list(request["ad_ids"]),
                                    "operation_status": ENABLE}
            status, new_id, _ = self._write(adv, ActionKind.UNDO_PAUSE, AD_STATUS, body, post_id=out.post_id,
                                            reason=reason, state_before=ad, ad_id=ad[0]["ad_id"], undo_of=action_id)
        else:
            before = json.loads(row["state_before"])["budget"]
            group = self.adgroups(adv, [request["adgroup_id"]])
            now = amount(group[0].get("budget")) if group else None
            if now is None or guardrails.cents(now) != guardrails.cents(request["budget"]):
                return refuse(budget_changed_since_sentence(request["adgroup_id"], now, request["budget"]))
            body = {"advertiser_id": adv, "adgroup_id": request["adgroup_id"], "budget": guardrails.cents(before)}
            status, new_id, _ = self._write(adv, ActionKind.UNDO_SCALE, ADGROUP_UPDATE, body, post_id=out.post_id,
                                            reason=reason, state_before=group, adgroup_id=request["adgroup_id"],
                                            undo_of=action_id)
        out.action_ids.append(new_id)
        out.calls.append((AD_STATUS if kind == ActionKind.PAUSE else ADGROUP_UPDATE, body))
        out.status = status
        return out
