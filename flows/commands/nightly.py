"""`sparkpick nightly` (one night, now) and `sparkpick serve` (the schedules, from one process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    app.command("nightly")(nightly)
    app.command("serve")(serve)


def nightly(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The night's as-of time (UTC unless it has an offset). Default: now; "
                                     "for the demo source, the demo world's end."),
    ] = None,
    prefect: Annotated[
        bool, typer.Option("--prefect/--no-prefect", help="Run as a Prefect flow (default) or as a plain call.")
    ] = True,
    dask_address: Annotated[
        str | None,
        typer.Option("--dask-address", metavar="tcp://HOST:PORT",
                     help="Decode new videos on this Dask cluster (default: video.dask_address)."),
    ] = None,
    dask_workers: Annotated[
        int | None,
        typer.Option("--dask-workers", min=1, help="Decode new videos on a local Dask cluster of N processes."),
    ] = None,
) -> None:
    """Run the nightly job once: ingest what is new, featurize new videos, score, write the shortlist report.

    Safe to repeat: the same night twice gives the same shortlist. A second run at the same time waits for
    the first (nightly.lock_timeout_s).
    """
    import time

    from flows.invocation import export

    # Prefect's temporary server (no PREFECT_API_URL) can take over 20 s to start on a busy 2-core machine.
    export("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180", keep_existing=True)
    # Offline by design: no usage analytics from the temporary server.
    export("PREFECT_SERVER_ANALYTICS_ENABLED", "false", keep_existing=True)
    from rich.console import Console
    from rich.text import Text

    from flows.commands.terminal_text import shown
    from flows.ingest import fed_settings
    from flows.nightly import report_date
    from sparkpick.config import with_dask
    from sparkpick.wording import far_from_now_sentence

    inv = ctx.obj
    inv.time(as_of, "--as-of")  # a bad time is refused before anything is read or started
    home = inv.home
    # The source the home was fed from, unless the config names one (the flow run resolves the same).
    settings = fed_settings(home, with_dask(inv.settings, dask_address, dask_workers), inv.named_source)
    moment = inv.as_of(as_of, settings)
    # soft_wrap: paths and long lines stay whole (copyable) when the output is not a wide terminal.
    console = Console(soft_wrap=True)
    night = f"Nightly run for {report_date(moment, settings.nightly.timezone)} (as of {moment} UTC), source "
    console.print(Text.assemble(night, shown(settings.ingest.source, "bold"), ", home ", shown(home.root)))
    if far := far_from_now_sentence(moment, inv.now):
        console.print(Text(far, style="bold yellow"))
    failed: list[str] = []
    started = time.time()
    if prefect:
        from flows.unchanged import nothing_to_do

        if nothing_to_do(home, settings, moment):
            # Prefect's start-up (a temporary server, a flow run) would cost more than the whole night.
            console.print("Nothing changed since this night last ran (same source files, data, model, settings "
                          "and time): repeating its shortlist without starting Prefect.")
            prefect = False
    if prefect:
        from flows.deployments import nightly_flow
        from flows.interrupt import sigterm_as_interrupt
        from flows.prefect_server import night_api

        # Against the configured API, or a temporary server that ends with this command (SIGTERM unwinds
        # like Ctrl-C and stops it; after a SIGKILL the kernel stops it: flows/children.py).
        with sigterm_as_interrupt(), night_api(home, settings):
            state = nightly_flow(**inv.flow_parameters(), as_of=moment.isoformat(), dask_address=dask_address,
                                 dask_workers=dask_workers, return_state=True)
        if not state.is_completed():
            error = state.result(raise_on_failure=False)
            failed.append(str(error) if isinstance(error, BaseException) else str(state.message))
    else:
        import logging

        from flows.nightly import run_nightly

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        result = run_nightly(home, settings, as_of=moment, ran_at=inv.now,
                             access_token=inv.access_token(settings.ingest.source))
        failed += result.stage_failures
    _print_outcome(console, home.reports / report_date(moment, settings.nightly.timezone), since=started)
    if failed:
        for line in failed:  # an error may quote outside text (a bad cell, an API message)
            console.print(Text("Failed: ", style="red").append_text(shown(line, lines=True)))
        raise typer.Exit(1)


def _print_outcome(console: Console, folder: Path, since: float = 0.0) -> None:
    """The top picks, the counts and where the report is, read back from the files this night wrote (at or
    after `since`, a `time.time()`; 0: whenever): a report left by an earlier run of the same date is not
    this one's."""
    import json

    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    from flows.commands.terminal_text import shown
    from sparkpick.wording import (
        line_of_test_picks,
        live_boosts_line,
        night_counts_line,
        retrain_sentence,
        top_picks_table,
        track_record_sentence,
    )

    csv, html = folder / "shortlist.csv", folder / "shortlist.html"
    info_file = folder / "report.json"
    if not csv.exists() or not info_file.exists() or info_file.stat().st_mtime < since:
        console.print("[red]No shortlist was written by this run.[/]")
        return
    shortlist = pd.read_csv(csv, dtype={"post_id": str, "advertiser_id": str, "advertiser_name": str})
    # One small table per advertiser: the long ids then cost a title line instead of a column, and the
    # reason (the column a marketer reads) gets the width.
    columns = ("rank", "creator", "uplift", "why")
    picks = top_picks_table(shortlist, per_advertiser=3)
    # one table per advertiser id: two ad accounts may share a name
    for advertiser_id, advertiser in dict(
        (str(row["advertiser_id"]), str(row["advertiser"])) for row in picks
    ).items():
        # an advertiser's name, a handle, a reason: text from outside, shown as is (never as rich markup)
        who = advertiser if advertiser != advertiser_id else f"advertiser {advertiser_id}"
        table = Table(title=shown(f"Top picks for {who}"), title_justify="left", show_lines=False)
        for col in columns:
            table.add_column(col, overflow="fold", no_wrap=col in ("rank", "uplift"), ratio=3 if col == "why" else None)
        for row in picks:
            if str(row["advertiser_id"]) == advertiser_id:
                # handles and reasons are hostile text: shown as text, never parsed as rich markup
                table.add_row(*(shown(row[c]) for c in columns))
        console.print(table)
    info = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    if info.get("ranking"):
        console.print(Text(str(info["ranking"]), style="bold"))
    if info.get("test_picks"):
        console.print(Text(line_of_test_picks(int(info["test_picks"]))))
    if info.get("left_out_text"):
        console.print(Text(str(info["left_out_text"])))
    failures = info.get("failures") or []
    console.print(night_counts_line(info.get("candidates_considered", "?"), len(shortlist), len(failures)))
    if "live_boosts" in info:
        live = folder / "live_boosts.csv"
        decisions = pd.read_csv(live)["decision"].tolist() if info["live_boosts"] and live.exists() else []
        console.print(live_boosts_line(int(info["live_boosts"]), decisions))
    if line := track_record_sentence(info.get("track_record")):
        console.print(Text(f"Model track record: {line}"))
    if due := retrain_sentence(info.get("track_record")):
        console.print(Text(due, style="bold red"))
    console.print(f"Report: {html}\nOpen it in a browser: {html.as_uri()}")


def serve(ctx: typer.Context) -> None:
    """Serve the scheduled deployments (nightly, weekly train) from this process until Ctrl-C.

    Uses the Prefect API you configured (PREFECT_API_URL or your Prefect profile); with none, starts a
    local Prefect server on 127.0.0.1 (UI included) and stops it on exit.
    """
    from flows.deployments import serve_deployments

    inv = ctx.obj
    serve_deployments(inv.home, inv.settings, inv.config_file, echo=typer.echo)
