"""The warehouse's upserts: counts of new, changed and unchanged rows; a re-run changes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from sparkpick.contract import SPECS, typed_frame
from sparkpick.errors import InputError
from sparkpick.warehouse import SCORES, SCORES_KEY, UpsertCounts, Warehouse, read_model_inputs

T = pd.Timestamp("2026-10-01 12:00")


def _creators(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return typed_frame(SPECS["creators"], [
        {"creator_id": cid, "handle": handle, "follower_count": followers, "is_brand_account": False}
        for cid, handle, followers in rows
    ])


def _metrics(*rows: tuple[str, pd.Timestamp, int]) -> pd.DataFrame:
    return typed_frame(SPECS["metrics"], [
        {"post_id": pid, "observed_at": at, "views": views, "likes": 1, "comments": 0, "shares": 0,
         "avg_watch_s": None, "full_watch_rate": None, "reach": None}
        for pid, at, views in rows
    ])


def test_upsert_counts_new_changed_and_unchanged(tmp_path):
    path = tmp_path / "wh.duckdb"
    with Warehouse(path) as wh:
        first = wh.upsert({"creators": _creators(("c1", "@one", 10), ("c2", "@two", 20))})
        assert first == {"creators": UpsertCounts(new=2, changed=0, unchanged=0)}
        second = wh.upsert({"creators": _creators(("c1", "@one", 10), ("c2", "@two", 25), ("c3", "@three", 30))})
        assert second["creators"] == UpsertCounts(new=1, changed=1, unchanged=1)
        stored = wh.read("creators").set_index("creator_id")
    assert len(stored) == 3 and stored.loc["c2", "follower_count"] == 25  # the change replaced the row


def test_re_upserting_the_same_rows_is_a_no_op(tmp_path):
    path = tmp_path / "wh.duckdb"
    frames = {
        "creators": _creators(("c1", "@one", 10)),
        "metrics": _metrics(("p1", T, 100), ("p1", T + pd.Timedelta(days=1), 150)),
    }
    with Warehouse(path) as wh:
        wh.upsert(frames)
        before = {name: wh.read(name) for name in frames}
    with Warehouse(path) as wh:
        again = wh.upsert(frames)
        after = {name: wh.read(name) for name in frames}
    assert again == {"creators": UpsertCounts(0, 0, 1), "metrics": UpsertCounts(0, 0, 2)}
    for name in frames:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_snapshots_are_keyed_by_post_and_time(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.upsert({"metrics": _metrics(("p1", T, 100))})
        counts = wh.upsert({"metrics": _metrics(("p1", T, 120), ("p1", T + pd.Timedelta(hours=6), 130))})
        assert counts["metrics"] == UpsertCounts(new=1, changed=1, unchanged=0)
        assert wh.count("metrics") == 2


def test_a_failed_upsert_leaves_the_warehouse_as_it_was(tmp_path):
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.upsert({"creators": _creators(("c1", "@one", 10))})
        broken = _metrics(("p1", T, 100)).drop(columns=["views"])  # not in the contract's shape
        with pytest.raises(KeyError):
            wh.upsert({"creators": _creators(("c1", "@one", 99)), "metrics": broken})
        assert wh.read("creators")["follower_count"].tolist() == [10]
        assert wh.count("metrics") == 0


def test_derived_tables_are_created_and_gain_columns(tmp_path):
    rows = pd.DataFrame({"run_id": ["r1", "r1"], "advertiser_id": ["a", "a"], "post_id": ["p1", "p2"],
                         "score": [0.5, 0.2]})
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert wh.upsert_frame(SCORES, rows, SCORES_KEY) == UpsertCounts(2, 0, 0)
        assert wh.upsert_frame(SCORES, rows, SCORES_KEY) == UpsertCounts(0, 0, 2)
        wider = rows.assign(flag_looks_like_ad=[True, False], score=[0.5, 0.3])
        assert wh.upsert_frame(SCORES, wider, SCORES_KEY) == UpsertCounts(0, 2, 0)
        stored = wh.read(SCORES).set_index("post_id")
    assert stored.loc["p2", "score"] == 0.3 and bool(stored.loc["p1", "flag_looks_like_ad"])


def test_model_inputs_need_a_warehouse_and_read_video_tables_only_once_there(tmp_path):
    with pytest.raises(InputError, match="run `sparkpick ingest` first"):
        read_model_inputs(tmp_path / "none.duckdb")
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.upsert({"creators": _creators(("c1", "@one", 10))})
    inputs = read_model_inputs(tmp_path / "wh.duckdb")
    assert set(inputs.tables) == set(SPECS) and len(inputs.tables["creators"]) == 1
    assert inputs.post_videos is None and inputs.video_features is None
