"""Stopping a command from outside (Ctrl-C, SIGTERM from a scheduler or `kill`) the same quiet way.

SIGTERM's default action ends the process at once: no `finally` block runs, so work that finished but
was not yet saved is lost and child processes are orphaned. Within `sigterm_as_interrupt()` it raises
`Terminated` (a `KeyboardInterrupt`) instead, so both signals unwind through the same cleanup.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# Shell convention for "ended by signal N": 128 + N.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop like Ctrl-C."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM raises `Terminated` in the main thread (elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
