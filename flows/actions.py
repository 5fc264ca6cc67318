"""Acting on the ad accounts as jobs: launching picks a person approved, carrying out the monitor's decisions
as `actions.modes` allows, undoing an action, reading the log. Plain functions (no Prefect): the CLI
(`sparkpick launch`, `sparkpick actions`, `sparkpick monitor --act`), the hourly monitor deployment and
the approval flow call them. Every call on an account goes through `sparkpick.sources.tiktok.actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.tiktok.actions import AccountActions, ActionsStopped, Mode, Outcome
from sparkpick.vocabulary import Decision
from sparkpick.warehouse import read_actions

Clock = Callable[[], pd.Timestamp]
ACTED_DECISIONS = tuple(d.value for d in Decision if d.acts)
# The monitor's proposed share for a budget raise, when it gives one (else actions.budget_step_max_share).
STEP_COLUMNS = ("budget_step", "proposed_budget_step")


def wall_clock() -> pd.Timestamp:
    """Now, naive UTC: the time stamped on log rows (decisions take their own as-of time)."""
    return as_utc(pd.Timestamp.now(tz="UTC"))


@contextmanager
def account_actions(home: Home, settings: Settings, token: str | None, *, mode: Mode, requested_by: str,
                    run_id: str, as_of: pd.Timestamp, clock: Clock = wall_clock) -> Iterator[AccountActions]:
    """An `AccountActions` session on the configured TikTok API (no client in shadow mode)."""
    from sparkpick.sources.tiktok import TikTokClient

    if mode == "shadow":
        yield AccountActions(None, settings, home, mode=mode, requested_by=requested_by, run_id=run_id,
                             as_of=as_of, clock=clock)
        return
    if not token:
        raise InputError(f"Acting on the ad account needs the TikTok access token in the environment variable "
                         f"{settings.tiktok.token_env}.")
    with TikTokClient(settings.tiktok.base_url, token, settings.tiktok) as client:
        yield AccountActions(client, settings, home, mode=mode, requested_by=requested_by, run_id=run_id,
                             as_of=as_of, clock=clock)


def advertisers_of(home: Home, post_ids: list[str]) -> dict[str, str]:
    """post_id -> advertiser_id from the warehouse's posts (an unknown post is an InputError naming it)."""
    from sparkpick.warehouse import Warehouse, require_warehouse

    require_warehouse(home.warehouse)
    with Warehouse(home.warehouse, read_only=True) as wh:
        posts = wh.read("posts", "post_id IN (SELECT unnest(?))", [list(post_ids)])
    found = dict(zip(posts["post_id"].astype(str), posts["advertiser_id"].astype(str), strict=True))
    missing = [p for p in post_ids if p not in found]
    if missing:
        raise InputError(f"Post(s) {', '.join(missing)} are not in the warehouse's posts table: check the id "
                         "(as in the shortlist) or run `sparkpick ingest`.")
    return found


def launch_posts(home: Home, settings: Settings, token: str | None, post_ids: list[str], *,
                 daily_budget: float | None, adgroup_id: str | None, apply: bool, requested_by: str,
                 run_id: str, as_of: pd.Timestamp, clock: Clock = wall_clock,
                 reasons: dict[str, str] | None = None) -> list[Outcome]:
    """Launch each post as a Spark Ad (or, without `apply`, plan and log the calls and send no write).
    A bad pick is refused with its reason and the others go on."""
    advertisers = advertisers_of(home, post_ids)
    outcomes = []
    with account_actions(home, settings, token, mode="apply" if apply else "dry_run", requested_by=requested_by,
                         run_id=run_id, as_of=as_of, clock=clock) as acts:
        for post in post_ids:
            outcomes.append(acts.launch(post, advertisers[post], daily_budget, adgroup_id,
                                        reason=(reasons or {}).get(post, "")))
    return outcomes


@dataclass(frozen=True)
class Carried:
    """What the monitor's decisions came to on the accounts."""

    outcomes: list[Outcome]
    recommended: int  # decisions left as recommendations (mode recommend, or an advertiser not configured)
    stopped: dict[str, str]  # advertiser -> why nothing may be done for it now (kill switch, breaker)


def carry_out_decisions(home: Home, settings: Settings, token: str | None, boosts: pd.DataFrame, *,
                        run_id: str, as_of: pd.Timestamp, clock: Clock = wall_clock) -> Carried:
    """The monitor's `pause` and `scale` rows, per advertiser and per `actions.modes`: `recommend` leaves
    them, `shadow` plans and logs them (no request at all), `auto` carries them out within the guardrails."""
    acted = boosts[boosts["decision"].isin(ACTED_DECISIONS)] if len(boosts) else boosts
    outcomes: list[Outcome] = []
    recommended = 0
    stopped: dict[str, str] = {}
    for advertiser, rows in (acted.groupby("advertiser_id", sort=True) if len(acted) else []):
        advertiser = str(advertiser)
        modes = settings.actions.modes_for(advertiser)
        configured = advertiser in settings.actions.advertisers
        for mode in ("shadow", "auto"):
            mine = rows[[configured and getattr(modes, str(d)) == mode for d in rows["decision"]]]
            if mine.empty:
                continue
            with account_actions(home, settings, token, mode="shadow" if mode == "shadow" else "apply",
                                 requested_by="schedule:monitor", run_id=run_id, as_of=as_of, clock=clock) as acts:
                if mode == "auto" and (why := acts.stopped(advertiser)):
                    stopped[advertiser] = why
                for row in mine.to_dict("records"):
                    try:
                        outcomes.append(_carry(acts, advertiser, row))
                    except ActionsStopped as exc:  # the kill switch went on, or the breaker opened, mid-call
                        stopped[advertiser] = str(exc)
                        break
                if mode == "auto" and advertiser not in stopped and (why := acts.stopped(advertiser)):
                    stopped[advertiser] = why  # it opened during this run: the report says so
        recommended += sum(1 for d in rows["decision"] if not configured or getattr(modes, str(d)) == "recommend")
    return Carried(outcomes, recommended, stopped)


def act_on_decisions(inv: Any, run: Any) -> Carried:
    """The hourly run's (and `sparkpick monitor --act`'s) step after looking: `carry_out_decisions` on the
    monitor run `run` (flows.monitor.MonitorRun) of invocation `inv`, the token read only when needed."""
    settings = inv.settings
    auto = any("auto" in (m.pause, m.scale) for m in
               [settings.actions.modes, *(a.modes for a in settings.actions.advertisers.values() if a.modes)])
    return carry_out_decisions(inv.home, settings, inv.token.read() if auto else None, run.boosts,
                               run_id=f"monitor-{run.as_of:%Y%m%dT%H%M}", as_of=run.as_of)


def carried_lines(carried: Carried) -> list[str]:
    """What the decisions came to, a line each (outside text still to be made safe where shown)."""
    from sparkpick.wording import action_sentence, actions_stopped_sentence, recommendations_sentence

    lines = [actions_stopped_sentence(adv, why) for adv, why in carried.stopped.items()]
    lines += [action_sentence(o.kind, o.post_id, o.status, o.reason, o.ad_id) for o in carried.outcomes]
    if carried.recommended:
        lines.append(recommendations_sentence(carried.recommended))
    return lines


def _carry(acts: AccountActions, advertiser: str, row: dict[str, Any]) -> Outcome:
    post, reason = str(row["post_id"]), str(row.get("reason") or "")
    if Decision.of(row["decision"]) is Decision.PAUSE:
        return acts.pause(post, advertiser, float(row.get("spend") or 0.0), reason)
    step = next((float(row[c]) for c in STEP_COLUMNS if c in row and pd.notna(row[c])), None)
    return acts.scale(post, advertiser, reason, proposed_share=step)


def undo_action(home: Home, settings: Settings, token: str | None, action_id: int, *, requested_by: str,
                as_of: pd.Timestamp, clock: Clock = wall_clock) -> Outcome:
    """Revert a pause or a budget change (logged, `undo_of` = `action_id`)."""
    with account_actions(home, settings, token, mode="apply", requested_by=requested_by,
                         run_id=f"undo-{action_id}", as_of=as_of, clock=clock) as acts:
        return acts.undo(action_id, reason=f"undo of action {action_id}")


def action_log(home: Home) -> pd.DataFrame:
    """The actions log, oldest first."""
    return read_actions(home.warehouse)


def breaker_states(home: Home, settings: Settings, as_of: pd.Timestamp) -> dict[str, str]:
    """advertiser -> why actions are stopped for it now (kill switch, circuit breaker); empty when none."""
    from sparkpick import guardrails

    out: dict[str, str] = {}
    log = action_log(home)
    killed = guardrails.kill_switch(settings.actions, (home.root / settings.actions.kill_file).exists())
    for advertiser in settings.actions.advertisers:
        if not killed.allowed:
            out[advertiser] = killed.why
            continue
        failures = guardrails.recent_failures(log, advertiser, as_of, settings.actions.circuit_breaker_hours)
        verdict = guardrails.circuit_breaker(settings.actions, failures)
        if not verdict.allowed:
            out[advertiser] = verdict.why
    return out
