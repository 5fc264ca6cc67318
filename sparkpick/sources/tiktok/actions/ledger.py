"""The actions log and the checks before any call: intent rows, their outcome, kill switch and breaker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from sparkpick import guardrails
from sparkpick.config import AdvertiserActions, Settings
from sparkpick.errors import InputError, SparkpickError
from sparkpick.home import Home
from sparkpick.sources.tiktok.actions.terms import (
    FAILED,
    REFUSED,
    ActionsStopped,
    Mode,
    Outcome,
    as_json,
)
from sparkpick.sources.tiktok.client import TikTokClient
from sparkpick.vocabulary import ActionKind, ActionStatus
from sparkpick.warehouse import add_action, read_actions, update_action


class ActionLog:
    """The actions log of one session and the checks before any call (kill switch, circuit breaker).

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
    def _log(self, advertiser_id: str, kind: ActionKind, status: ActionStatus, *, post_id: str | None = None,
             reason: str = "", endpoint: str | None = None, request: dict[str, Any] | None = None,
             state_before: Any = None, ad_id: str | None = None, adgroup_id: str | None = None,
             note: str = "", undo_of: int | None = None) -> int:
        now = self.clock()
        self._rows = None
        return add_action(self.home.warehouse, {
            "run_id": self.run_id, "logged_at": now, "updated_at": now, "as_of": self.as_of,
            "advertiser_id": advertiser_id, "kind": ActionKind.of(kind).value, "post_id": post_id, "ad_id": ad_id,
            "adgroup_id": adgroup_id, "requested_by": self.requested_by, "reason": reason,
            "mode": self.mode, "status": ActionStatus.of(status).value, "endpoint": endpoint,
            "request": as_json(request),
            "state_before": as_json(state_before), "note": note or None, "undo_of": undo_of,
        }, self._lock_s)

    def _finish(self, action_id: int, **fields: Any) -> None:
        for key in ("answer", "state_after"):
            if key in fields:
                fields[key] = as_json(fields[key])
        if "status" in fields:
            fields["status"] = ActionStatus.of(fields["status"]).value
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

    def _refuser(self, out: Outcome, reason: str) -> Callable[..., Outcome]:
        def refuse(why: str, logged: bool = False) -> Outcome:
            if not logged:
                out.action_ids.append(self._log(out.advertiser_id, out.kind, REFUSED, post_id=out.post_id,
                                                reason=reason, note=why))
            out.status, out.reason = (FAILED if logged else REFUSED), why
            return out
        return refuse
