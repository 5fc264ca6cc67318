"""`sparkpick ingest`: load a source into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparkpick.sources.registry import known_sources


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        ctx: typer.Context,
        source: Annotated[
            str | None,
            typer.Option(help=f"{', '.join(known_sources())} (default: "
                        "ingest.source in the --config file, else the source the home was fed from, else "
                        "ingest.source)."),
        ] = None,
        skip_invalid: Annotated[
            bool, typer.Option(help="Load the valid rows; write rejected ones, with reasons, to a file.")
        ] = False,
        partnerships: Annotated[
            Path | None,
            typer.Option(
                metavar="FILE",
                help="tiktok source: CSV or Parquet of partnerships (advertiser_id, creator_id, kind, "
                "started_at, usage_rights); default: tiktok.partnerships_file in config.",
            ),
        ] = None,
        allow_new_source: Annotated[
            bool, typer.Option("--allow-new-source",
                               help="Add data from a source other than the one the home was fed from.")
        ] = False,
    ) -> None:
        """Validate a source against the data contract and upsert it into the warehouse."""
        from rich.console import Console
        from rich.text import Text

        from flows.commands.terminal_text import shown
        from flows.ingest import choose_source, ingest_source
        from flows.progress import progress_bar

        inv = ctx.obj
        settings, home = inv.settings, inv.home
        chosen = choose_source(home, settings, source or inv.named_source).source
        token = inv.access_token(chosen)
        console = Console()
        with progress_bar("Building the demo world", console) as progress:
            summary = ingest_source(
                home, settings, chosen, skip_invalid, progress=progress, access_token=token,
                partnerships=partnerships, allow_new_source=allow_new_source,
            )
        console.print(Text.assemble("Ingested ", shown(summary.source, "bold"), " into ", shown(home.warehouse)))
        # counts, and notes that may quote the source's own words
        for line in summary.lines():
            console.print(Text("  ").append_text(shown(line)))
        if summary.problems:
            console.print(f"[yellow]{len(summary.problems)} problem(s) set aside:[/]")
            for problem in summary.problems[:10]:  # a problem may quote the bad cell's value
                console.print(Text("  - ").append_text(shown(problem)))
