"""Which hours had ended by T: an hour counts once it is over, never while it runs."""

from __future__ import annotations

import pandas as pd

from sparkpick.clock import HOUR, hour_ended_by, hours_ended_by

T = pd.Timestamp("2026-10-01T06:00:00")


def test_an_hour_counts_from_its_end_on() -> None:
    assert hour_ended_by(T - HOUR, T)  # 05:00-06:00 ended at 06:00
    assert not hour_ended_by(T - HOUR + pd.Timedelta(seconds=1), T)
    assert not hour_ended_by(T, T)
    starts = pd.Series(pd.to_datetime(["2026-10-01T04:00", "2026-10-01T05:00", "2026-10-01T05:30"]))
    assert hour_ended_by(starts, T).tolist() == [True, True, False]
    assert hour_ended_by(pd.DatetimeIndex(starts), T).tolist() == [True, True, False]


def test_hours_ended_by_keeps_the_rows_and_their_index() -> None:
    hourly = pd.DataFrame({"hour_start": ["2026-10-01T05:00:00", "2026-10-01T06:00:00", "2026-10-01T04:00:00"],
                           "spend": [1.0, 2.0, 3.0]}, index=[10, 11, 12])
    kept = hours_ended_by(hourly, T)
    assert kept.index.tolist() == [10, 12] and kept["spend"].tolist() == [1.0, 3.0]
    empty = hourly.iloc[:0]
    assert hours_ended_by(empty, T).empty
    assert hours_ended_by(pd.DataFrame(), T).empty  # no rows, no columns: nothing to cut


def test_now_is_naive_utc_to_the_second_and_as_of_wins_over_it() -> None:
    from sparkpick.clock import as_of_or_now, utc_now

    now = utc_now()
    assert now.tzinfo is None and now == now.floor("s")
    assert abs(now - pd.Timestamp.now(tz="UTC").tz_localize(None)) < pd.Timedelta(seconds=5)
    assert as_of_or_now("2026-10-01T08:00:00+02:00") == T
    assert as_of_or_now(None) >= now
