"""A seeded generator of past boosts in decision groups whose right order is known (planted), a small quick
ranker config (`fast`) and a fresh MLflow SQLite store per test (`store`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparkpick.config import Settings, with_overrides

START = pd.Timestamp("2026-03-02")
FEATURES = ["engagement_rate", "views", "creator_familiarity", "video_hook", "video_polish_score", "noise"]
DESCRIPTIONS = {
    "engagement_rate": "Organic engagement per view",
    "views": "Organic views so far",
    "creator_familiarity": "Earlier posts by this creator about the brand",
    "video_hook": "Motion and faces in the first 3 seconds",
    "video_polish_score": "How produced the video looks (0-100)",
}


def make_boosts(
    n_weeks: int = 24,
    advertisers: int = 3,
    group_size: tuple[int, int] = (6, 14),
    noise: float = 0.15,
    seed: int = 0,
    levels: int = 5,
) -> pd.DataFrame:
    """Past boosts shaped like `training_matrix` rows; `expected_uplift` is the planted truth.

    Uplift rises with the hook, falls with polish, rises with familiarity and (weakly) with organic
    engagement; views are pure audience size and carry nothing.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for week in range(n_weeks):
        decision = START + pd.Timedelta(weeks=week)
        for adv in range(advertisers):
            size = int(rng.integers(group_size[0], group_size[1] + 1))
            hook = rng.normal(size=size)
            polish = rng.uniform(0, 100, size=size)
            fam = rng.poisson(2, size=size).astype(float)
            eng = rng.lognormal(-3, 0.5, size=size)
            truth = 0.8 * hook - 0.012 * polish + 0.15 * fam + 3.0 * (eng - np.exp(-3 + 0.125))
            uplift = truth + rng.normal(scale=noise, size=size)
            boosted = decision + pd.to_timedelta(rng.uniform(0, 72, size=size), unit="h")
            ranks = pd.Series(uplift).rank(pct=True, method="first").to_numpy()
            for i in range(size):
                rows.append(
                    {
                        "group_id": f"adv{adv}|{decision:%Y-%m-%d}",
                        "decision_time": decision,
                        "advertiser_id": f"adv{adv}",
                        "post_id": f"p{week:03d}{adv}{i:02d}",
                        "boosted_at": boosted[i],
                        "ended_at": boosted[i] + pd.Timedelta(days=7),
                        "uplift": uplift[i],
                        "expected_uplift": truth[i],
                        "relevance": min(levels - 1, int(ranks[i] * levels)),
                        "boost_propensity": float(np.clip(eng[i] * 8, 0.02, 0.95)),
                        "engagement_rate": eng[i],
                        "views": float(rng.lognormal(9, 1.5)),
                        "creator_familiarity": fam[i],
                        "video_hook": hook[i],
                        "video_polish_score": polish[i],
                        "noise": rng.normal(),
                        "creator_handle": f"@creator{adv}{i}",
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def boosts() -> Callable[..., pd.DataFrame]:
    return make_boosts


# A small, quick ranker ensemble for tests that log and register models.
FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 120, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 20}}


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return with_overrides(settings, FAST)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path]:
    root = tmp_path / "mlruns"
    root.mkdir()
    return f"sqlite:///{root / 'mlflow.db'}", root
