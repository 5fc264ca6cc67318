"""The data-quality rules on hand-made snapshots."""

from __future__ import annotations

import pandas as pd

from features.quality import DataQualityReport, clean_metrics

T0 = pd.Timestamp("2026-03-01 12:00")


def h(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def snaps(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["post_id", "observed_at", "views", "likes", "comments", "shares", "avg_watch_s",
                       "full_watch_rate"]
    )
    for c in ("views", "likes", "comments", "shares"):
        frame[c] = frame[c].astype("Int64")
    frame["reach"] = pd.array([None] * len(frame), dtype="Int64")
    return frame


POSTS = pd.DataFrame({"post_id": ["p1", "p2"], "posted_at": [T0, T0]})


def test_each_rule_applies_and_is_counted() -> None:
    metrics = snaps(
        [
            ("p1", h(-1), 5, 0, 0, 0, 1.0, 0.1),  # before posting: dropped
            ("p1", h(2), 100, 10, 1, 1, 5.0, 0.5),
            ("p1", h(5), 90, 12, 0, 1, 4.0, 0.4),  # views and comments go backwards: raised
            ("p1", h(5), 80, 11, 0, 1, 4.0, 0.4),  # duplicate time, lower counts: dropped
            ("p1", h(9), 150, 15, 2, 3, 3.0, 0.3),
            ("ghost", h(3), 1, 1, 1, 1, 1.0, 0.1),  # unknown post: dropped
        ]
    )
    clean, report = clean_metrics(metrics, POSTS)
    assert report.snapshots_in == 6
    assert report.snapshots_kept == 3
    assert report.snapshots_before_posting == 1
    assert report.duplicate_snapshots == 1
    assert report.orphan_snapshots == 1
    assert report.backwards_counts["views"] == 1
    assert report.backwards_counts["comments"] == 1
    assert report.backwards_counts["likes"] == 0
    assert report.posts_without_snapshots == 1  # p2
    assert clean["views"].tolist() == [100, 100, 150]
    assert clean["likes"].tolist() == [10, 12, 15]  # the higher duplicate was kept
    assert clean["comments"].tolist() == [1, 1, 2]
    assert clean["avg_watch_s"].tolist() == [5.0, 4.0, 3.0]  # averages may fall: untouched
    assert clean["reach"].isna().all()  # missing stays missing
    assert report.backwards_total == 2


def test_duplicate_choice_does_not_depend_on_row_order() -> None:
    rows = [("p1", h(5), 90, 12, 0, 1, 4.0, 0.4), ("p1", h(5), 80, 11, 0, 1, 4.0, 0.4)]
    a, _ = clean_metrics(snaps(rows), POSTS)
    b, _ = clean_metrics(snaps(rows[::-1]), POSTS)
    pd.testing.assert_frame_equal(a, b)


def test_report_round_trips_and_reads() -> None:
    _, report = clean_metrics(snaps([("p1", h(2), 100, 10, 1, 1, 5.0, 0.5)]), POSTS)
    again = DataQualityReport.from_dict(report.as_dict())
    assert again == report
    assert any("1 metric snapshots in" in line for line in report.lines())
