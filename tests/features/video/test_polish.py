"""The polish score: direction, explanations, and separation of produced from native videos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.video.extract import extract_video
from features.video.polish import polish_score
from tests.features.video.clips import native, produced, write_clip


def _auc(scores: list[float], labels: list[bool]) -> float:
    """ROC AUC by pair counting (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _cues(**overrides: float) -> dict[str, float]:
    base = {"cuts_per_10s": 1.0, "hard_cuts": 2.0, "mean_shot_s": 5.0, "shake": 0.3, "text_frame_share": 0.3,
            "saturation": 0.35, "colourfulness": 40.0, "noise": 1.5, "exposure_drift": 2.0,
            "sharpness": 2.2, "face_share": 0.5, "letterbox_share": 0.0}
    return {**base, **overrides}


def test_each_produced_trait_raises_the_score(settings):
    table = settings.video.polish
    mid, _ = polish_score(_cues(), table)
    for name, produced_value in [("cuts_per_10s", 5.0), ("shake", 0.02), ("text_frame_share", 0.9),
                                 ("saturation", 0.6), ("noise", 0.3), ("face_share", 0.0)]:
        higher, _ = polish_score(_cues(**{name: produced_value}), table)
        assert higher > mid, name


def test_score_is_bounded_and_explained(settings):
    table = settings.video.polish
    studio, why_studio = polish_score(_cues(cuts_per_10s=8, hard_cuts=12, shake=0.01, text_frame_share=1.0,
                                            saturation=0.7, colourfulness=90, noise=0.2, exposure_drift=0.1,
                                            sharpness=3.0, face_share=0.0, letterbox_share=0.3), table)
    phone, why_phone = polish_score(_cues(cuts_per_10s=0, hard_cuts=0, shake=1.2, text_frame_share=0.0,
                                          saturation=0.2, colourfulness=15, noise=4.0, exposure_drift=8.0,
                                          sharpness=1.5, face_share=0.9), table)
    assert studio == 100 and phone == 0
    assert 2 <= len(why_studio) <= 3 and 2 <= len(why_phone) <= 3
    assert any("cuts" in r for r in why_studio) and any("steady" in r for r in why_studio)
    assert any("take" in r or "shake" in r for r in why_phone)


def test_missing_cues_are_left_out_not_zeroed(settings):
    table = settings.video.polish
    full, _ = polish_score(_cues(), table)
    partial, _ = polish_score({**_cues(), "shake": math.nan, "noise": math.nan}, table)
    assert partial is not None and 0 <= partial <= 100
    assert polish_score({}, table) == (None, [])
    assert full is not None


def test_synthetic_produced_and_native_clips_separate(settings, tmp_path):
    scores, labels = [], []
    for seed in range(3):
        for is_produced, shots in ((True, produced(seed, 4.0)), (False, native(seed, 4.0))):
            path = tmp_path / f"{seed}_{is_produced}.mp4"
            write_clip(path, shots, seed=seed)
            result = extract_video(path, settings.video)
            assert result.status == "ok"
            scores.append(result.polish_score)
            labels.append(is_produced)
    assert _auc(scores, labels) == 1.0
    assert min(s for s, y in zip(scores, labels, strict=True) if y) > 60
    assert max(s for s, y in zip(scores, labels, strict=True) if not y) < 40


@pytest.mark.slow
def test_polish_separates_produced_from_native_demo_videos(settings, request):
    """ROC AUC >= 0.95 on the demo world's rendered videos (truth.csv's `produced`)."""
    from features.video.pool import VideoTask, run_videos

    world: Path = request.getfixturevalue("tiny_world")
    truth = pd.read_csv(world / "truth.csv", dtype={"post_id": str})
    posts = pd.read_csv(world / "posts.csv", dtype={"post_id": str})
    posts = posts[posts["video_path"].notna()]
    tasks = [VideoTask(r.post_id, str(world / r.video_path)) for r in posts.itertuples()]
    scores: dict[str, float] = {}
    run_videos(tasks, settings.video, lambda t, r: scores.__setitem__(t.key, r.polish_score))
    merged = truth.assign(score=truth["post_id"].map(scores)).dropna(subset=["score"])
    assert len(merged) >= 0.9 * len(tasks)
    labels = merged["produced"].astype(str).str.lower().eq("true").tolist()
    assert 0 < sum(labels) < len(labels)
    assert _auc(merged["score"].tolist(), labels) >= 0.95
    assert np.isfinite(merged["score"]).all()
