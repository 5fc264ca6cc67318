"""`sparkpick world`: write the synthetic demo world (tables and rendered videos) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def world(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option(help="Folder to write the world to (created if missing).")],
        seed: Annotated[int | None, typer.Option(help="Random seed (default: world.seed in config).")] = None,
        size: Annotated[
            str, typer.Option(help="World size: a key of world.sizes in config (tiny, small, default, large).")
        ] = "default",
        workers: Annotated[int, typer.Option(min=1, help="Processes rendering videos in parallel.")] = 2,
    ) -> None:
        """Write a demo world in the local-folder format: six contract CSVs, truth.csv and videos/*.mp4.

        The same seed always gives the same folder; re-running keeps videos that are already right.
        truth.csv holds the hidden traits and expected uplift, for evaluation only.
        """
        import time

        from rich.console import Console

        from flows.progress import progress_bar
        from sparkpick.errors import InputError
        from sparkpick.sources.demo import build_world

        settings = ctx.obj.settings
        if size not in settings.world.sizes:
            raise InputError(f"Unknown --size {size!r}; choose one of: {', '.join(settings.world.sizes)}.")
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out} exists and is not a folder.")
        console = Console()
        started = time.perf_counter()
        with progress_bar(f"Rendering the {size} world's videos", console) as progress:
            summary = build_world(out, settings, size=size, seed=seed, progress=progress, workers=workers)
        elapsed = time.perf_counter() - started
        console.print(f"Wrote the [bold]{size}[/] demo world (seed {summary.seed}) to {out} in {elapsed:.1f} s")
        for line in summary.lines():
            console.print(f"  {line}")
        console.print(f"  Load it with: sparkpick ingest --source local:{out}")
