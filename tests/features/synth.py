"""A small random world of contract tables for feature tests (seeded; no demo-world dependency).

Posts carry 0-`max_snaps` snapshots at random times after posting (cumulative counts, sometimes a
backwards blip), boosts with results, and weekly baselines per advertiser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-01-01")


def make_tables(
    seed: int = 0,
    n_posts: int = 60,
    n_advertisers: int = 2,
    n_creators: int = 6,
    days: int = 60,
    max_snaps: int = 8,
    boost_rate: float = 0.3,
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    advs = [f"adv{i}" for i in range(n_advertisers)]
    creators = pd.DataFrame(
        {
            "creator_id": [f"c{i}" for i in range(n_creators)],
            "handle": [f"handle{i}" for i in range(n_creators)],
            "follower_count": pd.array(rng.integers(100, 100_000, n_creators), dtype="Int64"),
            "is_brand_account": pd.array([i < n_advertisers for i in range(n_creators)], dtype="boolean"),
        }
    )
    part_rows = []
    for i, adv in enumerate(advs):
        part_rows.append((adv, f"c{i}", "own", START - pd.Timedelta(days=365), True))
        for j in range(n_advertisers, n_creators):
            kind = "ongoing" if (i + j) % 2 else "one_off"
            started = START + pd.Timedelta(days=int(rng.integers(0, days // 2)))
            part_rows.append((adv, f"c{j}", kind, started, bool(rng.random() < 0.7)))
    partnerships = pd.DataFrame(
        part_rows, columns=["advertiser_id", "creator_id", "kind", "started_at", "usage_rights"]
    )
    partnerships["started_at"] = partnerships["started_at"].astype("datetime64[us]")
    partnerships["usage_rights"] = partnerships["usage_rights"].astype("boolean")

    posted = START + pd.to_timedelta(rng.uniform(0, days * 24, n_posts), unit="h")
    adv_of = rng.integers(0, n_advertisers, n_posts)
    creator_of = np.where(rng.random(n_posts) < 0.25, adv_of, rng.integers(n_advertisers, n_creators, n_posts))
    status = rng.choice(["none", "requested", "authorized", "expired"], n_posts, p=[0.3, 0.1, 0.5, 0.1])
    expires = posted + pd.to_timedelta(rng.choice([7, 30, 60], n_posts), unit="D")
    captions = rng.choice(
        ["Love this #ad @handle0 link in bio", "morning routine 🌞☕ what do you think?", "", None,
         "use code GLOW for 10% off #sponsored #skincare", "handle1 changed my life!!"],
        n_posts,
    )
    posts = pd.DataFrame(
        {
            "post_id": [f"p{i:04d}" for i in range(n_posts)],
            "advertiser_id": [advs[a] for a in adv_of],
            "creator_id": [f"c{c}" for c in creator_of],
            "posted_at": posted.astype("datetime64[us]"),
            "caption": pd.Series(captions, dtype="str"),
            "video_path": pd.Series([None] * n_posts, dtype="str"),
            "spark_auth_status": status,
            "spark_auth_expires_at": pd.Series(expires.astype("datetime64[us]")).where(status != "none"),
        }
    )

    snap_rows = []
    for pid, t0 in zip(posts["post_id"], posts["posted_at"], strict=True):
        n = int(rng.integers(0, max_snaps + 1))
        hours = np.sort(rng.uniform(1, 24 * 14, n))
        views = np.cumsum(rng.integers(0, 5000, n))
        for h, v in zip(hours, views, strict=True):
            blip = rng.random() < 0.05
            vv = int(v * 0.9) if blip else int(v)
            snap_rows.append(
                (pid, t0 + pd.Timedelta(hours=float(h)), vv, int(vv * 0.08), int(vv * 0.01), int(vv * 0.005),
                 float(rng.uniform(2, 12)), float(rng.uniform(0, 0.6)), int(vv * 0.8))
            )
    metrics = pd.DataFrame(
        snap_rows,
        columns=["post_id", "observed_at", "views", "likes", "comments", "shares", "avg_watch_s",
                 "full_watch_rate", "reach"],
    )
    metrics["observed_at"] = metrics["observed_at"].astype("datetime64[us]").dt.floor("s")
    for c in ("views", "likes", "comments", "shares", "reach"):
        metrics[c] = metrics[c].astype("Int64")

    boosted = posts[rng.random(n_posts) < boost_rate]
    res_rows = []
    for pid, t0 in zip(boosted["post_id"], boosted["posted_at"], strict=True):
        b = t0 + pd.Timedelta(hours=float(rng.uniform(24, 24 * 10)))
        e = b + pd.Timedelta(days=int(rng.integers(3, 10)))
        spend = float(rng.uniform(0, 500))
        imp = int(spend * rng.uniform(50, 150))
        res_rows.append(
            (pid, b, e, spend, imp, int(imp * 0.3), int(imp * 0.1), int(imp * 0.02), int(imp * 0.003),
             int(imp * 0.001), int(imp * 0.01), int(rng.poisson(spend / 40)), float(rng.uniform(0.05, 1)))
        )
    spark_results = pd.DataFrame(
        res_rows,
        columns=["post_id", "boosted_at", "ended_at", "spend", "impressions", "views_2s", "views_6s", "likes",
                 "comments", "shares", "clicks", "conversions", "boost_propensity"],
    )
    for c in ("boosted_at", "ended_at"):
        spark_results[c] = spark_results[c].astype("datetime64[us]").dt.floor("s")

    base_rows = []
    for adv in advs:
        for w in range(-2, days // 7 + 4):
            s = START + pd.Timedelta(weeks=w)
            spend = float(rng.uniform(1000, 3000))
            imp = int(spend * 100)
            base_rows.append(
                (adv, s, s + pd.Timedelta(days=7), spend, imp, int(imp * 0.3), int(imp * 0.01), int(imp * 0.001),
                 int(imp * 0.0005), int(imp * 0.008), int(spend / 30))
            )
    baselines = pd.DataFrame(
        base_rows,
        columns=["advertiser_id", "period_start", "period_end", "spend", "impressions", "views_2s", "likes",
                 "comments", "shares", "clicks", "conversions"],
    )
    for c in ("period_start", "period_end"):
        baselines[c] = baselines[c].astype("datetime64[us]")
    return {
        "creators": creators,
        "partnerships": partnerships,
        "posts": posts,
        "metrics": metrics,
        "spark_results": spark_results,
        "baselines": baselines,
    }
