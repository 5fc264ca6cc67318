"""A progress bar as a `(done, total)` callback: nothing shown until work reports, the last count shown
when it ends (also when the work fails), and the total may change as work is found."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from flows.progress import progress_bar


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=100), out


def test_nothing_is_shown_when_no_work_reports() -> None:
    console, out = _console()
    with progress_bar("decoding videos", console):
        pass
    assert out.getvalue() == ""


def test_the_last_count_is_shown_with_its_label() -> None:
    console, out = _console()
    with progress_bar("decoding videos", console) as update:
        update(1, 10)
        update(7, 12)  # more work found on the way
    shown = out.getvalue()
    assert "decoding videos" in shown and "7/12" in shown
    assert shown.count("decoding videos") == 1


def test_the_bar_stops_when_the_work_fails() -> None:
    console, out = _console()
    with pytest.raises(ValueError), progress_bar("rendering posts", console) as update:
        update(2, 5)
        raise ValueError("a bad post")
    assert "2/5" in out.getvalue()
    # The display was stopped: the console takes the next bar (rich allows one live display at a time).
    with progress_bar("decoding videos", console) as update:
        update(1, 1)
    assert "1/1" in out.getvalue()
