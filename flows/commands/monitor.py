"""`sparkpick monitor`: the live boosts, each with keep / pause / add budget and why, and the model's track record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparkpick.vocabulary import Decision, require_words

_STYLE = require_words(Decision, {Decision.PAUSE: "bold red", Decision.SCALE: "bold green", Decision.KEEP: "bold",
                                  Decision.TOO_EARLY: "dim"})



def monitor(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Look as of this time (ISO 8601, UTC unless it has an offset); only hours "
                                     "that ended by then count. Default: now (demo source: the world's end)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the table to this CSV file.")] = None,
    act: Annotated[bool, typer.Option("--act", help="Then carry out the pause / scale decisions as actions.modes "
                                                     "allows (recommend: nothing; shadow: logged, not sent; "
                                                     "auto: sent within the guardrails), as the hourly run does.")
                   ] = False,
) -> None:
    """Watch the live boosts: for each, keep, pause or add budget, and why; then the model's track record.

    Exit status 0 when it looked (also with no live boost), 2 on bad input (no warehouse, a bad --as-of),
    1 when it failed.
    """
    import pandas as pd
    from rich.console import Console
    from rich.text import Text

    from flows.commands.terminal_text import terminal_safe
    from flows.monitor import run_monitor, write_live_csv
    from sparkpick.errors import InputError
    from sparkpick.warehouse import require_warehouse
    from sparkpick.wording import (
        advertiser_label,
        cost_range_phrase,
        decision_label,
        log_cost_phrase,
        retrain_sentence,
        track_record_sentence,
    )

    inv = ctx.obj
    settings, home = inv.settings, inv.home
    if out is not None and out.is_dir():
        raise InputError(f"--out {out} is a folder: give the CSV file to write, e.g. {out / 'live_boosts.csv'}.")
    require_warehouse(home.warehouse)
    moment = inv.as_of(as_of, settings)
    run = run_monitor(home, settings, moment)
    console = Console(soft_wrap=True)
    console.print(f"Live boosts as of {moment} UTC (only hours that ended by then count)")
    if run.boosts.empty:
        console.print("No live boosts: no boost has hourly delivery without a final result by this time.")
    order = [list(Decision).index(Decision.of(d)) for d in run.boosts["decision"]]
    boosts = run.boosts.assign(_o=order) if len(run.boosts) else run.boosts
    for advertiser, mine in boosts.groupby("advertiser_id", sort=True):
        name = terminal_safe(advertiser_label(mine.iloc[0].to_dict()))
        title = f"\n{name}" if name != terminal_safe(advertiser) else f"\nAdvertiser {name}"
        # One block of text per advertiser, printed at once: 10,000 live boosts printed line by line cost
        # more than the monitor itself.
        block = Text(title, style="bold")
        for row in mine.sort_values(["_o", "boosted_at"], kind="stable").to_dict("records"):
            # One short block per boost: readable at any terminal width, and the reason stays whole.
            handle, post = terminal_safe(row.get("creator_handle")).lstrip("@"), terminal_safe(row["post_id"])
            who = f"@{handle}" if handle else f"post {post}"
            decision = Decision.of(row["decision"])
            block.append("\n")
            block.append(f"  {decision_label(decision).upper()}", style=_STYLE[decision])
            block.append(f"  {who}, boosted {row['boosted_at']:%Y-%m-%d %H:%M} UTC, post {post}")
            block.append(f"\n    {terminal_safe(row.get('reason'))}")
            predicted = row.get("predicted_uplift")
            picked = log_cost_phrase(predicted) if pd.notna(predicted) else "not scored before the boost"
            band = cost_range_phrase(row.get("low"), row.get("high"))
            block.append(f"\n    predicted at pick: {picked}"
                         f"; estimate so far: {log_cost_phrase(row.get('estimated_uplift'))}"
                         + (f" (likely {band})" if band else ""))
        console.print(block)
    record = run.track_record.to_dict() if run.track_record is not None else None
    if line := track_record_sentence(record):
        console.print(Text(f"Model track record: {line}"))
    if due := retrain_sentence(record):
        console.print(Text(due, style="bold red"))
    if out is not None:
        write_live_csv(run, out)
        console.print(f"wrote {len(run.boosts)} rows to {out}")
    if act:
        from flows.actions import act_on_decisions, carried_lines

        for line in carried_lines(act_on_decisions(inv, run)):
            console.print(Text(terminal_safe(line)))


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
