"""`sparkpick featurize` and `sparkpick video-features`.

`video-features` must start quickly: it imports only the extraction modules (OpenCV, NumPy, PyAV),
never pandas, MLflow or Prefect. `featurize` imports its flow module when it runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer


def _number(x: Any) -> float | None:
    return None if x is None or not isinstance(x, int | float) or not math.isfinite(x) else float(x)


def _json_line(result: dict[str, Any]) -> str:
    failed = result["status"] == "failed"
    return json.dumps({
        "path": result["path"],
        "status": result["status"],
        "error": result["error"],
        "polish_score": None if failed else _number(result["polish_score"]),
        "polish_reasons": result["polish_reasons"],
        "video_sha256": result["video_sha256"],
        "decoded_s": _number(result["decoded_s"]),
        "duration_s": _number(result["duration_s"]),
        "thumbnail_path": result["thumbnail_path"],
        "seconds": round(result["seconds"], 3),
        "cues": {} if failed else {k: _number(v) for k, v in result["cues"].items()},
    })


def _text_block(result: dict[str, Any]) -> str:
    from features.video.cues.catalogue import CUE_DESCRIPTIONS
    from flows.commands.terminal_text import terminal_safe

    # a file's name and a decoder's message are outside text
    lines = [f"{terminal_safe(result['path'])}: {result['status']}"]
    if result["error"]:
        lines.append(f"  problem: {terminal_safe(result['error'])}")
    if result["status"] != "failed":
        score = result["polish_score"]
        lines.append(f"  polish_score: {score:.0f}/100" if score is not None else "  polish_score: n/a")
        for reason in result["polish_reasons"]:
            lines.append(f"    - {reason}")
        lines.append(f"  decoded {result['decoded_s']:.1f} s of {result['duration_s'] or 0:.1f} s "
                     f"in {result['seconds']:.2f} s")
        width = max(len(k) for k in CUE_DESCRIPTIONS)
        for name, value in result["cues"].items():
            shown = "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"
            lines.append(f"  {name:<{width}}  {shown:>9}  {CUE_DESCRIPTIONS[name]}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("video-features")
    def video_features(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help="Video files to analyse.")],
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
        thumbnails: Annotated[
            Path | None, typer.Option(help="Also write a JPEG thumbnail per video into this folder.")
        ] = None,
        workers: Annotated[int | None, typer.Option(min=1, help="Parallel processes (default: config).")] = None,
    ) -> None:
        """Print the polish cues, polish_score and its reasons for each video file (no warehouse needed).

        Exits with status 1 when any file failed; the others are still printed.
        """
        from features.video.pool import VideoTask, run_videos

        settings = ctx.obj.settings
        tasks = [VideoTask(key=str(i), path=str(p)) for i, p in enumerate(paths)]
        results: dict[int, dict[str, Any]] = {}
        printed = 0

        def on_result(task: VideoTask, result: Any) -> None:
            nonlocal printed
            results[int(task.key)] = result.to_dict()
            while printed in results:  # print in the order given, as soon as possible
                out = results[printed]
                typer.echo(_json_line(out) if as_json else _text_block(out))
                printed += 1

        # This process has no threads yet, so plain fork is safe and saves starting a forkserver.
        run_videos(tasks, settings.video, on_result, thumbnail_dir=thumbnails, workers=workers,
                   start_method="fork")
        if any(r["status"] == "failed" for r in results.values()):
            raise SystemExit(1)

    @app.command("featurize")
    def featurize(
        ctx: typer.Context,
        retry_failed: Annotated[bool, typer.Option(help="Try videos that failed before again.")] = False,
        workers: Annotated[int | None, typer.Option(min=1, help="Parallel processes (default: config).")] = None,
        dask_address: Annotated[
            str | None,
            typer.Option("--dask-address", metavar="tcp://HOST:PORT",
                         help="Decode on this Dask cluster (default: video.dask_address). Every worker must "
                              "be able to read the videos: a shared path or an fsspec URL (s3://, gs://)."),
        ] = None,
        dask_workers: Annotated[
            int | None,
            typer.Option("--dask-workers", min=1, help="Start a local Dask cluster of N worker processes."),
        ] = None,
    ) -> None:
        """Compute the missing video features for the warehouse's posts (cached by video content).

        Results are saved as they arrive: stopped with Ctrl-C or SIGTERM, it keeps every finished video
        and the next run computes only the rest.
        """
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from flows.commands.terminal_text import terminal_safe
        from flows.featurize import featurize_videos
        from flows.interrupt import exit_code, sigterm_as_interrupt
        from sparkpick.config import with_dask

        inv = ctx.obj
        settings = with_dask(inv.settings, dask_address, dask_workers)
        err = Console(stderr=True, soft_wrap=True)
        try:
            with sigterm_as_interrupt(), Progress(
                TextColumn("videos"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
            ) as bar:
                task = bar.add_task("videos", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary = featurize_videos(inv.home, settings, progress, retry_failed=retry_failed,
                                           workers=workers,
                                           announce=lambda line: bar.console.print(line, soft_wrap=True))
        except KeyboardInterrupt as exc:
            saved, total = getattr(exc, "videos_saved", 0), getattr(exc, "videos_total", "?")
            err.print(f"Stopped: {saved} of {total} videos finished and are saved; "
                      "run `sparkpick featurize` again to compute the rest.")
            raise typer.Exit(exit_code(exc)) from None
        typer.echo(terminal_safe(summary, lines=True))  # failures name posts and quote decoders
