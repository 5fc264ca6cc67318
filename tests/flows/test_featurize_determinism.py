"""Same files, same `video_features` rows, bit for bit: run to run, and with one or two worker processes."""

from __future__ import annotations

import pandas as pd

from flows.featurize import VIDEO_FEATURES, featurize_videos, thumbnail_dir
from sparkpick.home import Home
from sparkpick.warehouse import Warehouse
from tests.features.video.clips import Shot, write_clip
from tests.flows.test_featurize import _load_posts


def _rows(home: Home) -> pd.DataFrame:
    with Warehouse(home.warehouse) as wh:
        rows = wh.read(VIDEO_FEATURES)
    # When and where a run wrote are the only things allowed to differ.
    return rows.drop(columns=["computed_at", "thumbnail_path"]).sort_values("video_sha256").reset_index(drop=True)


def test_two_featurize_runs_give_identical_rows_with_one_or_two_workers(settings, tmp_path):
    clips = {
        "grainy": [Shot(1.2, 1, noise=6.0, shake_px=2.0, pan_px_s=10.0), Shot(1.3, 2, noise=6.0, text=True)],
        "steady": [Shot(2.0, 3, blur=1.5, exposure_drift=0.3)],
        "cuts": [Shot(0.8, 4, shake_px=1.0), Shot(0.9, 5), Shot(0.7, 6, noise=3.0)],
    }
    videos = {}
    for name, shots in clips.items():
        videos[f"p_{name}"] = str(tmp_path / f"{name}.mp4")
        write_clip(tmp_path / f"{name}.mp4", shots, seed=len(name))
    homes = [Home.at(tmp_path / f"home{k}").ensure() for k in (1, 2, 3)]
    for home, workers in zip(homes, (1, 2, 2), strict=True):
        _load_posts(home, videos)
        summary = featurize_videos(home, settings, workers=workers)
        assert summary.done == len(clips), str(summary)
    first = _rows(homes[0])
    assert len(first) == len(clips) and set(first["status"]) == {"ok"}
    for home in homes[1:]:
        pd.testing.assert_frame_equal(_rows(home), first, check_exact=True)
    for sha in first["video_sha256"]:
        thumbs = {(thumbnail_dir(home) / f"{sha}.jpg").read_bytes() for home in homes}
        assert len(thumbs) == 1
