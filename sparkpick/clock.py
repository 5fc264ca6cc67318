"""Time as the pipeline reads it: the wall clock, the hour, and which hours had ended by a moment T.

An hour's figures are final only once it has ended: a row whose hour starts at `hour_start` counts at T
when `hour_start + 1 h <= T`. The monitor, the TikTok reader and the demo world all cut hourly rows with
`hour_ended_by`, so a figure at T never uses an hour still running. The wall clock is read by `utc_now`
only where a command or flow starts (flows/), then handed down as an argument.
"""

from __future__ import annotations

from typing import TypeVar

import pandas as pd

from sparkpick.contract import as_utc

HOUR = pd.Timedelta(hours=1)

Starts = TypeVar("Starts", pd.Timestamp, pd.Series, pd.DatetimeIndex)


def hour_ended_by(hour_start: Starts, as_of: pd.Timestamp) -> Starts | bool:
    """Whether the hour starting at `hour_start` (a time, or a series or index of them) had ended by `as_of`."""
    return hour_start + HOUR <= as_of


def hours_ended_by(hourly: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rows of `hourly` whose hour (`hour_start`) had ended by `as_of`, with their index."""
    if hourly.empty:
        return hourly
    return hourly[hour_ended_by(pd.to_datetime(hourly["hour_start"]), as_of)]


def utc_now() -> pd.Timestamp:
    """The wall clock as a naive UTC time to the second: for where a command or flow starts, never deeper."""
    return as_utc(pd.Timestamp.now(tz="UTC").floor("s"))


def as_of_or_now(as_of: pd.Timestamp | str | None) -> pd.Timestamp:
    """`as_of` as a naive UTC time, or now (`utc_now`) when none is given."""
    return as_utc(as_of) if as_of is not None else utc_now()
