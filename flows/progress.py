"""A rich progress bar as a plain `(done, total)` callback, so library code never prints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(label: str, console: Console | None = None) -> Iterator[Callable[[int, int], None]]:
    """Yield a callback that shows `done/total`; the bar appears only once the callback is first called."""
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )
    task_id: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task_id
        if task_id is None:
            progress.start()
            task_id = progress.add_task(label, total=total)
        progress.update(task_id, completed=done, total=total)

    try:
        yield update
    finally:
        if task_id is not None:
            progress.stop()
