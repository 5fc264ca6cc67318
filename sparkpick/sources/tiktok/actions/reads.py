"""Reading the account: ads, ad groups, authorisations, and the read-back that says whether a write took."""

from __future__ import annotations

from typing import Any

from sparkpick import guardrails
from sparkpick.errors import SparkpickError
from sparkpick.sources.tiktok.actions.ledger import ActionLog
from sparkpick.sources.tiktok.actions.terms import (
    AD_FIELDS,
    AD_GET,
    ADGROUP_FIELDS,
    ADGROUP_GET,
    ENABLE,
    SCOPES,
    SPARK_LIST,
    VIDEO_INFO,
    ActionPermissionError,
    amount,
)
from sparkpick.sources.tiktok.client import (
    TikTokApiError,
    TikTokPermissionError,
)
from sparkpick.vocabulary import ActionKind


class AccountReads(ActionLog):
    """Reads of the ad account, each checked against the kill switch and breaker, and the read-back of a write."""

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
        budgets = {str(g["adgroup_id"]): amount(g.get("budget")) or 0.0
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
        if kind == ActionKind.CREATE_AD:
            name = request["creatives"][0]["ad_name"]
            found = [a for a in self.ads(advertiser_id) if a["ad_name"] == name]
            return bool(found), found
        if kind == ActionKind.CREATE_ADGROUP:
            name = request["adgroup_name"]
            found = [g for g in self.adgroups(advertiser_id, campaign_id=request.get("campaign_id"))
                     if g.get("adgroup_name") == name]
            return bool(found), found
        if kind in (ActionKind.ENABLE_AD, ActionKind.PAUSE, ActionKind.UNDO_PAUSE):
            found = self.ads(advertiser_id, list(request["ad_ids"]))
            wanted = request["operation_status"]
            return bool(found) and all(a["operation_status"] == wanted for a in found), found
        if kind in (ActionKind.SCALE, ActionKind.UNDO_SCALE):
            found = self.adgroups(advertiser_id, [request["adgroup_id"]])
            budgets = [amount(g.get("budget")) for g in found]
            return (bool(found) and all(b is not None and guardrails.cents(b) == guardrails.cents(request["budget"])
                                        for b in budgets)), found
        if kind == ActionKind.AUTHORIZE:
            info = self._read(advertiser_id, VIDEO_INFO, {"advertiser_id": advertiser_id,
                                                          "auth_code": request["auth_code"]})
            status = str((info.get("auth_info") or {}).get("ad_auth_status", ""))
            return status == "AUTHORIZED", info
        raise SparkpickError(f"No read-back for action kind {kind!r}")

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
