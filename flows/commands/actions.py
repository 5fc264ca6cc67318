"""`sparkpick launch` (approved picks as Spark Ads) and `sparkpick actions` (the log of every call on an ad
account, and undoing a pause or a budget change)."""

from __future__ import annotations

from typing import Annotated

import typer


def launch(
    ctx: typer.Context,
    post_ids: Annotated[list[str], typer.Argument(help="Post ids (TikTok item ids, as in the shortlist).")],
    daily_budget: Annotated[
        float | None,
        typer.Option("--daily-budget", help="Daily budget of each pick's new ad group (account currency)."),
    ] = None,
    adgroup_id: Annotated[
        str | None,
        typer.Option("--adgroup-id", help="Put the ads in this ad group (default: actions.advertisers.<id>"
                                          ".adgroup_id, else a new ad group per pick)."),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Send the calls. Without it: print and log the calls it "
                                                         "would make, and send none.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Check codes as of this time (default: now).")] = None,
) -> None:
    """Launch posts a person approved as Spark Ads: check each code, create the ad disabled, read it back,
    enable it; within actions.advertisers' daily budget cap.

    Exit status 0 when every post was launched (or, without --apply, planned), 1 when one was refused or
    failed (each says why), 2 on bad input.
    """
    from rich.console import Console
    from rich.text import Text

    from flows.actions import launch_posts
    from flows.commands.terminal_text import terminal_safe
    from sparkpick.vocabulary import ActionKind, ActionStatus
    from sparkpick.wording import action_sentence

    inv = ctx.obj
    settings, home = inv.settings, inv.home
    moment = inv.as_of(as_of, settings)
    if daily_budget is not None and not daily_budget > 0:
        raise typer.BadParameter("must be more than 0", param_hint="--daily-budget")
    outcomes = launch_posts(home, settings, inv.token.read(), list(post_ids),
                            daily_budget=daily_budget, adgroup_id=adgroup_id, apply=apply,
                            requested_by=inv.operator, run_id=f"launch-{moment:%Y%m%dT%H%M%S}", as_of=moment)
    console = Console(soft_wrap=True)
    if not apply:
        console.print("Dry run: nothing was sent. The calls it would make (run again with --apply to send them):")
    for out in outcomes:
        line = action_sentence(ActionKind.LAUNCH, out.post_id, out.status, out.reason, out.ad_id)
        console.print(Text(terminal_safe(line)))
        if not apply:
            for endpoint, body in out.calls:
                console.print(Text(terminal_safe(f"    POST {endpoint} {body}")))
    bad = [o for o in outcomes if o.status not in (ActionStatus.LAUNCHED, ActionStatus.PLANNED)]
    if bad:
        raise typer.Exit(1)


def actions(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the log as JSON lines.")] = False,
    undo: Annotated[int | None, typer.Option("--undo", help="Revert this pause or budget change "
                                                            "(itself logged).")] = None,
) -> None:
    """The log of every call on an ad account (who asked, what, why, the answer, the state read back), or
    --undo ID to revert a pause or a budget change. Exit status 0, 1 when an undo was refused or failed."""
    import json

    from rich.console import Console
    from rich.text import Text

    from flows.actions import action_log, breaker_states, undo_action
    from flows.commands.terminal_text import terminal_safe
    from sparkpick.vocabulary import ActionStatus
    from sparkpick.wording import action_sentence

    inv = ctx.obj
    settings, home = inv.settings, inv.home
    console = Console(soft_wrap=True)
    if undo is not None:
        out = undo_action(home, settings, inv.token.read(), undo, requested_by=inv.operator, as_of=inv.now)
        console.print(Text(terminal_safe(action_sentence(out.kind, out.post_id, out.status, out.reason, out.ad_id))))
        if out.status not in (ActionStatus.DONE, ActionStatus.RECONCILED):
            raise typer.Exit(1)
        return
    log = action_log(home)
    if as_json:
        for row in log.to_dict("records"):
            typer.echo(json.dumps({k: (None if v is None or v != v else v) for k, v in row.items()}, default=str))
        return
    for advertiser, why in breaker_states(home, settings, inv.now).items():
        console.print(Text(terminal_safe(f"Advertiser {advertiser}: {why}"), style="bold red"))
    if log.empty:
        console.print("No actions yet.")
    for row in log.to_dict("records"):
        line = action_sentence(str(row["kind"]), row["post_id"], str(row["status"]), row.get("note") or "",
                               row.get("ad_id"))
        console.print(Text(terminal_safe(f"#{row['action_id']} {row['logged_at']:%Y-%m-%d %H:%M} "
                                         f"{row['requested_by']} [{row['mode']}] {line}")))


def register(app: typer.Typer) -> None:
    app.command("launch")(launch)
    app.command("actions")(actions)
