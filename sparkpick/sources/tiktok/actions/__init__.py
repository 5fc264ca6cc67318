"""The one package that moves money: every write call to the TikTok API for Business goes through here.

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

Only `calls.py` sends a write; `terms.py` names the endpoints, statuses and outcomes, `ledger.py` keeps the
log and the checks, `reads.py` reads the account back, `launch.py` launches a pick and `decisions.py` the
monitor's pause, scale and undo (`AccountActions`, the class callers use).
"""

from sparkpick.sources.tiktok.actions.decisions import AccountActions
from sparkpick.sources.tiktok.actions.terms import (
    APPLIED_STATUSES,
    SCOPES,
    ActionPermissionError,
    ActionsStopped,
    Mode,
    Outcome,
    marker,
)

__all__ = [
    "APPLIED_STATUSES",
    "SCOPES",
    "AccountActions",
    "ActionPermissionError",
    "ActionsStopped",
    "Mode",
    "Outcome",
    "marker",
]
