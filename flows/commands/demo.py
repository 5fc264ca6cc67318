"""`sparkpick demo`: every stage once, on the default demo world, with progress shown."""

from __future__ import annotations

import time
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    size: Annotated[str, typer.Option(help="Demo world size: tiny, small, default or large.")] = "default",
) -> None:
    """Build the demo world, ingest it, featurize its videos, train the ranker, score and write the report."""
    from rich.console import Console
    from rich.text import Text

    from flows.commands.model import metrics_table
    from flows.commands.nightly import _print_outcome
    from flows.commands.terminal_text import shown
    from flows.featurize import featurize_videos
    from flows.ingest import check_source, ingest_folder
    from flows.nightly import report_date, run_nightly
    from flows.progress import progress_bar
    from flows.train import train_model
    from sparkpick.config import with_overrides
    from sparkpick.contract import as_utc
    from sparkpick.sources.demo.source import demo_world_folder, demo_world_wanted

    inv = ctx.obj
    # The nightly run below gathers from the same demo world, whatever the configured source.
    settings = with_overrides(inv.settings, {"ingest": {"source": "demo"}})
    home = inv.home
    console = Console(soft_wrap=True)
    as_of = as_utc(settings.world.end)
    started = time.monotonic()

    def step(title: str) -> None:
        console.rule(f"[bold]{title}[/]  ({time.monotonic() - started:.0f} s)", align="left")

    world = demo_world_wanted(home, settings, size)
    # Before minutes of rendering: never into a home fed from elsewhere, or from another demo world.
    check_source(home, "demo", detail=world)
    step("1/4 demo world")
    with progress_bar("rendering posts and videos", console) as progress:
        folder = demo_world_folder(home, settings, progress, size=size)
    console.print(f"world in {folder}")
    summary = ingest_folder(home, settings, folder, source="demo", detail=world)
    for line in summary.lines():
        console.print(Text("  ").append_text(shown(line)))

    step("2/4 video features")
    with progress_bar("decoding videos", console) as progress:
        feats = featurize_videos(home, settings, progress)
    console.print(f"  {feats}")

    step("3/4 training the ranker")
    with console.status("training the ranker and its baselines..."):
        trained = train_model(home, settings, until=as_of)
    console.print(metrics_table(trained.metrics, settings.ranker.shortlist_k,
                                "Validation decisions: model vs baselines"))
    console.print(trained.model_summary)
    console.print(f"registered {trained.model_name} v{trained.model_version}: {trained.promotion_reason}")

    step("4/4 nightly scoring and report")
    night_started = time.time()
    result = run_nightly(home, settings, as_of=as_of)
    _print_outcome(console, home.reports / report_date(as_of, settings.nightly.timezone), since=night_started)
    console.print(
        f"\nDone in {time.monotonic() - started:.0f} s. Everything is under {home.root}.\n"
        f"MLflow: experiment '{settings.mlflow.experiment}', run {trained.run_id}, model "
        f"{trained.model_name} v{trained.model_version}; to browse it: {_program()} --home {home.root} ui   "
        f"(then open http://{settings.mlflow.ui_host}:{settings.mlflow.ui_port})"
    )
    if not result.ok:
        for line in result.stage_failures:  # an error may quote outside text
            console.print(Text("Failed: ", style="red").append_text(shown(line, lines=True)))
        raise typer.Exit(1)


def _program() -> str:
    """How this command was started (`.venv/bin/sparkpick` after `make demo`), to repeat it in hints."""
    import shlex
    import sys

    return shlex.quote(sys.argv[0]) if sys.argv and sys.argv[0].endswith("sparkpick") else "sparkpick"
