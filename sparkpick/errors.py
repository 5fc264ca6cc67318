"""The kinds of failure sparkpick tells apart: the user's input (exit status 2), a damaged file in the home,
something that may heal by itself (worth a retry), and anything else (exit status 1)."""

from __future__ import annotations

from pathlib import Path

# Messages of errors that heal by waiting: another process holds a lock, a server is busy or unreachable.
_TRANSIENT_WORDS = ("database is locked", "could not set lock", "conflicting lock", "lock on file",
                    "temporarily unavailable", "too many requests", "connection reset", "timed out")


class SparkpickError(Exception):
    """Something went wrong that is not the user's input (exit status 1)."""


class InputError(SparkpickError):
    """The user's input is wrong: a file, row, column or argument (exit status 2)."""


class TransientError(SparkpickError):
    """Something that may heal by itself (a source throttling or unreachable, a lock held): retry later."""


class DamagedFileError(SparkpickError):
    """A file in the home is damaged (truncated, half-written, not what it should be). Retrying cannot help:
    the message names the file and how to restore or rebuild it."""

    def __init__(self, path: Path | str, what: str, remedy: str, detail: str = "") -> None:
        self.path = Path(path)
        found = f" ({detail.strip().splitlines()[0][:200]})" if detail.strip() else ""
        super().__init__(f"{what} {self.path} is damaged{found}. {remedy}")


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: network trouble, throttling, locks. Bad input, damaged files and bugs
    fail the same way every time, so they are not retried (the cause chain is followed)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (InputError, DamagedFileError)):
            return False
        if isinstance(current, (TransientError, ConnectionError, TimeoutError)) or _is_network_error(current):
            return True
        if any(word in str(current).lower() for word in _TRANSIENT_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_network_error(exc: BaseException) -> bool:
    # httpx is the sources' HTTP client; named by class so this core module imports nothing heavy.
    return any(cls.__module__.startswith("httpx") and cls.__name__ in ("TransportError", "TimeoutException")
               for cls in type(exc).__mro__)
