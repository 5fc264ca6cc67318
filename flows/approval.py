"""A person approves the night's picks: what the approval form lists, and what the answer launches.

Plain functions (no Prefect). The approval flow in flows/deployments.py suspends with a form built from
`approval_fields` (Prefect's typed run input) and, resumed, hands the answer to `launch_approved`. Each
pick's state is in the actions log (kind `approval`): `waiting` (with the moment the form expires),
`approved`, `declined`, and then the launch's own rows; `approval_states` reads them for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from flows.actions import Clock, launch_posts, wall_clock
from sparkpick.config import Settings
from sparkpick.home import Home
from sparkpick.sources.tiktok.actions import Outcome
from sparkpick.vocabulary import ActionKind, ActionStatus, Flag
from sparkpick.warehouse import add_action, read_actions
from sparkpick.wording import (
    AWAITING_APPROVAL,
    actions_stopped_sentence,
    approval_badge,
    approval_field_texts,
    approved_budget_note,
)

APPROVAL = ActionKind.APPROVAL
WAITING, APPROVED, DECLINED, EXPIRED = (ActionStatus.WAITING, ActionStatus.APPROVED, ActionStatus.DECLINED,
                                       ActionStatus.EXPIRED)


@dataclass(frozen=True)
class Pick:
    """One ready-to-boost pick offered for approval (a flow parameter: plain values, no hostile text)."""

    advertiser_id: str
    post_id: str
    rank: int
    proposed_budget: float

    def field(self, prefix: str) -> str:
        return f"{prefix}_{self.post_id}"


def ready_picks(shortlist: pd.DataFrame, settings: Settings) -> list[Pick]:
    """The shortlist's picks that can be boosted now (a Spark code in force) for advertisers sparkpick may
    act on, each with `actions.proposed_daily_budget` (never above the advertiser's cap)."""
    if shortlist.empty:
        return []
    code = Flag.NO_AUTH_CODE.column
    ready = shortlist[~shortlist[code].astype(bool)] if code in shortlist else shortlist
    picks = []
    for n, row in enumerate(ready.to_dict("records")):
        account = settings.actions.advertisers.get(str(row["advertiser_id"]))
        if account is None:
            continue
        budget = min(settings.actions.proposed_daily_budget, account.daily_budget_cap)
        rank = int(row["rank"]) if "rank" in row and pd.notna(row["rank"]) else n + 1
        picks.append(Pick(str(row["advertiser_id"]), str(row["post_id"]), rank, float(budget)))
    return picks


def approval_fields(picks: list[Pick]) -> dict[str, tuple[type, Any]]:
    """The form's fields, per pick: `approve_<post>` (a tick box, off) and `budget_<post>` (the proposed
    daily budget), each described by advertiser and rank, in advertiser then rank order."""
    from pydantic import Field

    fields: dict[str, tuple[type, Any]] = {}
    for p in sorted(picks, key=lambda p: (p.advertiser_id, p.rank)):
        launch, budget = approval_field_texts(p.advertiser_id, p.rank, p.post_id)
        fields[p.field("approve")] = (bool, Field(default=False, description=launch))
        fields[p.field("budget")] = (float, Field(default=p.proposed_budget, gt=0, description=budget))
    return fields


def record_waiting(home: Home, picks: list[Pick], run_id: str, as_of: pd.Timestamp, expires_at: pd.Timestamp,
                   clock: Clock = wall_clock) -> None:
    """One `waiting` row per pick (once per approval run: a resumed run starts again from the top)."""
    log = read_actions(home.warehouse)
    if len(log) and ((log["run_id"] == run_id) & (log["kind"] == APPROVAL)).any():
        return
    for p in picks:
        _approval_row(home, p, run_id, as_of, WAITING, f"expires {expires_at:%Y-%m-%d %H:%M} UTC", clock)


def _approval_row(home: Home, p: Pick, run_id: str, as_of: pd.Timestamp, status: str, note: str,
                  clock: Clock, who: str = "schedule:nightly") -> None:
    now = clock()
    add_action(home.warehouse, {"run_id": run_id, "logged_at": now, "updated_at": now, "as_of": as_of,
                                "advertiser_id": p.advertiser_id, "kind": APPROVAL, "post_id": p.post_id,
                                "requested_by": who, "reason": f"pick #{p.rank}", "mode": "approval",
                                "status": status, "note": note})


def launch_approved(home: Home, settings: Settings, token: str | None, picks: list[Pick], answer: dict[str, Any],
                    *, run_id: str, approver: str, as_of: pd.Timestamp, clock: Clock = wall_clock) -> list[Outcome]:
    """Log each pick's answer (approved with its budget, or declined) and launch the approved ones, one call
    of `launch_posts` each (a pick whose code expired or post changed since is refused with the reason)."""
    log = read_actions(home.warehouse)
    answered = set(log[(log["run_id"] == run_id) & log["status"].isin([APPROVED, DECLINED])]["post_id"]) \
        if len(log) else set()
    outcomes = []
    for p in picks:
        ticked = bool(answer.get(p.field("approve")))
        budget = float(answer.get(p.field("budget")) or p.proposed_budget)
        if p.post_id not in answered:
            _approval_row(home, p, run_id, as_of, APPROVED if ticked else DECLINED,
                          approved_budget_note(budget) if ticked else "", clock, who=approver)
        if ticked:
            outcomes += launch_posts(home, settings, token, [p.post_id], daily_budget=budget, adgroup_id=None,
                                     apply=True, requested_by=approver, run_id=run_id, as_of=as_of, clock=clock,
                                     reasons={p.post_id: f"approved pick #{p.rank}"})
    return outcomes


def approval_states(log: pd.DataFrame, now: pd.Timestamp) -> dict[str, str]:
    """post_id -> its latest state for the report, as its badge (`sparkpick.wording.approval_badge`): launched,
    approved (not yet launched), refused (with the launch's reason), declined, waiting or expired (nothing
    approved in time)."""
    if log.empty:
        return {}
    states: dict[str, tuple[ActionStatus, str]] = {}
    for row in log.sort_values("action_id").to_dict("records"):
        post, kind, status = str(row["post_id"]), ActionKind.of(row["kind"]), ActionStatus.of(row["status"])
        if kind == APPROVAL:
            if status == WAITING:
                expires = pd.to_datetime(str(row.get("note") or "").removeprefix("expires ").removesuffix(" UTC"),
                                         errors="coerce")
                status = EXPIRED if pd.notna(expires) and expires <= now else WAITING
            states[post] = (status, "")
        elif kind == ActionKind.ENABLE_AD and status in (ActionStatus.DONE, ActionStatus.RECONCILED):
            states[post] = (ActionStatus.LAUNCHED, "")
        elif kind == ActionKind.LAUNCH and status == ActionStatus.REFUSED and states.get(post, (None,))[0] == APPROVED:
            states[post] = (ActionStatus.REFUSED, str(row.get("note") or ""))
    return {post: approval_badge(status, why) for post, (status, why) in states.items()}


def report_states(home: Home, settings: Settings, shortlist: pd.DataFrame, now: pd.Timestamp) -> list[str]:
    """Per shortlist row, what became of it for the report's "Approval" badge: its state in the actions log
    (`approval_states`), else AWAITING_APPROVAL for a ready pick of an advertiser sparkpick may act on,
    else "" (nothing to show)."""
    if shortlist.empty:
        return []
    states = approval_states(read_actions(home.warehouse), now) if home.warehouse.exists() else {}
    ready = {(p.advertiser_id, p.post_id) for p in ready_picks(shortlist, settings)}
    return [states.get(str(r["post_id"]), AWAITING_APPROVAL if (str(r["advertiser_id"]), str(r["post_id"])) in ready
                       else "") for r in shortlist.to_dict("records")]


def actions_notes(home: Home, settings: Settings, now: pd.Timestamp) -> list[str]:
    """The report's lines on advertisers whose actions are stopped (kill switch, circuit breaker)."""
    from flows.actions import breaker_states

    if not settings.actions.advertisers or not home.warehouse.exists():
        return []
    return [actions_stopped_sentence(adv, why) for adv, why in breaker_states(home, settings, now).items()]
