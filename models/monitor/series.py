"""Hourly rows as series: which boosts are live at T, and their hours side by side (hours ended by T only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparkpick.clock import HOUR, hours_ended_by
from sparkpick.contract import as_utc

KEY = ["post_id", "boosted_at"]
HOURLY_COUNTS = ("spend", "impressions", "views_2s", "views_6s", "likes", "comments", "shares", "clicks",
                 "conversions")


def _ts(value: pd.Timestamp | str) -> pd.Timestamp:
    return as_utc(value)


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").fillna(0).to_numpy("float64")


def live_boosts(hourly: pd.DataFrame, spark_results: pd.DataFrame, as_of: pd.Timestamp | str,
                ended_after_idle_hours: float | None = None) -> pd.DataFrame:
    """Boosts live at `as_of`: hourly rows ending by then, no spark_results row with `ended_at <= as_of`,
    and (with `ended_after_idle_hours`, monitor.ended_after_idle_hours) delivery within that many hours
    before `as_of`: a boost idle longer is over, even before its result row comes.

    Columns `post_id`, `boosted_at` and `delivered_until` (the end of its last hour with spend or
    impressions; its start hour when it has none), sorted by start. A finished boost (its result row in)
    is never live, and a boost whose results are not final yet is never a training label.
    """
    t = _ts(as_of)
    rows = hours_ended_by(hourly, t)
    delivered = (_num(rows, "spend") > 0) | (_num(rows, "impressions") > 0)
    ends = pd.to_datetime(rows["hour_start"]).where(delivered) + HOUR
    seen = rows[KEY].assign(_end=ends).groupby(KEY, as_index=False, sort=False)["_end"].max()
    start = pd.to_datetime(seen["boosted_at"]).dt.floor("h")
    seen["delivered_until"] = seen["_end"].fillna(start)
    done = spark_results.loc[pd.to_datetime(spark_results["ended_at"]) <= t, KEY].drop_duplicates()
    live = seen.merge(done, on=KEY, how="left", indicator=True)
    live = live[live["_merge"] == "left_only"]
    if ended_after_idle_hours is not None:
        live = live[(t - live["delivered_until"]) <= pd.Timedelta(hours=ended_after_idle_hours)]
    live = live[[*KEY, "delivered_until"]]
    return live.sort_values(["boosted_at", "post_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Grid:
    """Hourly series of some boosts on a common hour axis (offset 0 = the hour each boost started in)."""

    keys: pd.DataFrame  # post_id, boosted_at, first_hour, last_index (last hour ended by T)
    values: dict[str, np.ndarray]  # column -> (boosts x hours)


def _grids(hourly: pd.DataFrame, keys: pd.DataFrame, as_of: pd.Timestamp, columns: tuple[str, ...]
           ) -> list[_Grid]:
    """The boosts' hourly series, each grid as wide as its own boosts' longest series (boosts fall into
    grids by width, within a factor of two): one boost with a long life never widens every other boost's
    series, and memory stays in proportion to the hourly rows. Each grid's `keys` has `_pos`, the boost's
    position among `keys` (deduplicated); the grids together hold every boost once, in that order within
    each grid."""
    keys = keys[KEY].drop_duplicates().reset_index(drop=True)
    keys = keys.assign(first_hour=pd.to_datetime(keys["boosted_at"]).dt.floor("h"))
    # The last whole hour that ended by T, as an offset from each boost's first hour.
    keys["last_index"] = ((as_of.floor("h") - keys["first_hour"]) / HOUR).astype(int) - 1
    keys["_pos"] = np.arange(len(keys))
    rows = hours_ended_by(hourly, as_of).merge(keys[[*KEY, "first_hour", "_pos"]], on=KEY, how="inner")
    offset = ((pd.to_datetime(rows["hour_start"]) - rows["first_hour"]) / HOUR).to_numpy()
    rows = rows[offset >= 0]
    offset = offset[offset >= 0].astype(np.int64)
    pos = rows["_pos"].to_numpy()
    width = np.ones(len(keys), np.int64)
    np.maximum.at(width, pos, offset + 1)
    size_class = np.ceil(np.log2(width)).astype(np.int64)
    numbers = {col: _num(rows, col) for col in columns}
    grids = []
    for c in np.unique(size_class):
        mine = np.flatnonzero(size_class == c)
        slot = np.full(len(keys), -1)
        slot[mine] = np.arange(len(mine))
        take = slot[pos] >= 0
        b, off = slot[pos[take]], offset[take]
        wide = int(width[mine].max())
        values = {}
        for col in columns:
            arr = np.zeros((len(mine), wide))
            np.add.at(arr, (b, off), numbers[col][take])
            values[col] = arr
        grids.append(_Grid(keys=keys.iloc[mine].reset_index(drop=True), values=values))
    return grids


def _stacked(grids: list[_Grid]) -> _Grid:
    """The grids as one, as wide as the widest (the calibration replays finished boosts side by side)."""
    wide = max(g.values["spend"].shape[1] for g in grids)
    values = {c: np.vstack([np.pad(g.values[c], ((0, 0), (0, wide - g.values[c].shape[1]))) for g in grids])
              for c in grids[0].values}
    return _Grid(keys=pd.concat([g.keys for g in grids], ignore_index=True), values=values)
