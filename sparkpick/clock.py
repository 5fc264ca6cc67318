"""Time as the pipeline reads it: the hour, and which hours had ended by a moment T (always an argument).

An hour's figures are final only once it has ended: a row whose hour starts at `hour_start` counts at T
when `hour_start + 1 h <= T`. The monitor, the TikTok reader and the demo world all cut hourly rows with
`hour_ended_by`, so a figure at T never uses an hour still running.
"""

from __future__ import annotations

from typing import TypeVar

import pandas as pd

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
