"""The one place a write is sent: intent logged, sent once, read back; interrupted intents reconciled."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sparkpick.sources.tiktok.actions.reads import AccountReads
from sparkpick.sources.tiktok.actions.terms import (
    DONE,
    FAILED,
    INTENT,
    NOT_APPLIED,
    PLANNED,
    RECONCILED,
    UNEXPECTED,
)
from sparkpick.sources.tiktok.client import (
    PARTIAL_SUCCESS,
    TikTokApiError,
    TikTokPermissionError,
    TikTokThrottledError,
    TikTokUncertainError,
)
from sparkpick.vocabulary import ActionKind, ActionStatus


class AccountCalls(AccountReads):
    """Sends writes (the only class that does) and settles the intents an interrupted run left."""

    def _write(self, advertiser_id: str, kind: ActionKind, endpoint: str, body: dict[str, Any], *,
               post_id: str | None, reason: str, state_before: Any = None, ad_id: str | None = None,
               adgroup_id: str | None = None, undo_of: int | None = None) -> tuple[ActionStatus, int, Any]:
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
