"""When the monitor looks: the hour ends its deployment's cron (`monitor.cron`) sees, for the replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from cronsim import CronSim, CronSimError

HOUR_NS = 3_600_000_000_000


def hour_index(times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Naive UTC timestamps as whole hours since the epoch (floored)."""
    ns = pd.to_datetime(pd.Series(np.asarray(times))).to_numpy("datetime64[ns]").astype(np.int64)
    return np.floor_divide(ns, HOUR_NS)


def looked_hours(cron: str, timezone: str, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray | None:
    """The hour ends (hours since the epoch, naive UTC) by which a run of `cron` (in `timezone`) between
    `start` and `end` judged a boost: a run at 10:15 sees the hours that ended by 10:00, so it looks at
    the hour end 10:00. None when `cron` is empty (no deployment: someone may run the monitor at any hour,
    so every hour end counts). Each looked hour is found once, whatever the cron's frequency.
    """
    if not cron.strip():
        return None
    zone = ZoneInfo(timezone)
    first, last = int(hour_index([start])[0]), int(hour_index([end])[0])

    def runs_from(hour: int) -> CronSim:
        """The cron's runs from the start of `hour` (hours since the epoch) on."""
        at = datetime.fromtimestamp(hour * 3600, tz=zone) - timedelta(seconds=1)
        try:
            return CronSim(cron, at)
        except CronSimError as exc:
            raise ValueError(f"monitor.cron {cron!r} is not a cron expression the monitor can replay: {exc}") from exc

    looks: list[int] = []
    runs = runs_from(first)
    while True:
        fire: datetime | None = next(runs, None)
        hour = last + 1 if fire is None else int(fire.timestamp()) // 3600
        if hour > last:
            return np.asarray(looks, dtype=np.int64)
        if looks and hour == looks[-1]:
            runs = runs_from(hour + 1)  # more than one run an hour: each hour end is looked at once
            continue
        looks.append(hour)
