"""Assemble the demo world's tables in the local-folder contract, plus the hidden truth.

Pure and deterministic: the same config, size and seed give identical tables. Each stage draws from its
own child random stream, so changing one stage does not reshuffle the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparkpick.config import WorldConfig
from sparkpick.contract import ADVERTISERS, SPARK_RESULTS, SPECS
from sparkpick.errors import InputError
from sparkpick.sources.demo import delivery, paid, policy, world
from sparkpick.sources.demo import organic as organic_mod

VIDEO_DIR = "videos"
TRUTH_COLUMNS = ("post_id", "advertiser_id", "expected_uplift", "hook", "authenticity", "polish", "topic_fit",
                 "produced", "prior_posts", "expected_thumbstop")


@dataclass(frozen=True)
class WorldTables:
    """The contract tables (spark_hourly included), the truth tables, and the posts with everything hidden
    (for rendering). `truth` is per post, `truth_boosts` per boost (past and live)."""

    creators: pd.DataFrame
    partnerships: pd.DataFrame
    posts: pd.DataFrame
    metrics: pd.DataFrame
    spark_results: pd.DataFrame
    baselines: pd.DataFrame
    spark_hourly: pd.DataFrame
    truth: pd.DataFrame
    truth_boosts: pd.DataFrame
    hidden: pd.DataFrame
    advertisers: tuple[world.Advertiser, ...]

    def advertiser_table(self) -> pd.DataFrame:
        """The advertisers by name (the brands), with the world's currency and reporting zone."""
        return pd.DataFrame({
            "advertiser_id": [a.advertiser_id for a in self.advertisers],
            "name": [a.brand.name for a in self.advertisers],
            "currency": "USD", "timezone": "UTC",
        }, columns=[c.name for c in ADVERTISERS.columns])

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table a source would deliver, by contract name (written as <name>.csv)."""
        return {"advertisers": self.advertiser_table(), "creators": self.creators,
                "partnerships": self.partnerships, "posts": self.posts,
                "metrics": self.metrics, "spark_results": self.spark_results, "baselines": self.baselines,
                "spark_hourly": self.spark_hourly}

    def contract(self) -> dict[str, pd.DataFrame]:
        """The tables the data contract knows (what ingest and the warehouse take)."""
        return {name: frame for name, frame in self.tables().items() if name in SPECS}

    def truths(self) -> dict[str, pd.DataFrame]:
        """The truth-side tables (never read by the pipeline)."""
        return {"truth": self.truth, "truth_boosts": self.truth_boosts}


def generate_tables(config: WorldConfig, size: str, seed: int) -> WorldTables:
    """Generate every table of a world of the named size (a key of `config.sizes`)."""
    if size not in config.sizes:
        raise InputError(f"Unknown world size {size!r}; choose one of {', '.join(config.sizes)}.")
    spec = config.sizes[size]
    # Child streams keep their seeds when more are spawned: later stages never reshuffle earlier ones.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    end = world.world_end(config)
    start = world.world_start(spec, end)

    cast = world.make_cast(config, spec, streams[0], start)
    posts = world.make_posts(config, spec, cast, streams[1], start, end)
    advertisers = {a.advertiser_id: a for a in cast.advertisers}
    org = organic_mod.organic_model(config, posts, cast.creators, streams[2])
    metrics = organic_mod.snapshots(config, posts, org, streams[3], end)
    rates = paid.paid_rates(posts, advertisers, config.effects)
    baselines = paid.baselines(cast.advertisers, start, end, streams[4])
    spark = policy.run_boosts(config, posts, org, rates, advertisers, baselines, streams[5], end)
    live = delivery.live_flights(config, posts, rates, advertisers, spark, streams[7], end)
    flights = pd.concat([spark.assign(live=False, planned_end=spark["ended_at"]), live.assign(live=True)],
                        ignore_index=True)
    advertiser_of = posts.set_index("post_id")["advertiser_id"]
    hourly, truth_boosts = delivery.hourly_delivery(flights, advertiser_of, advertisers, streams[6], end)

    posts = posts.assign(
        video_path=np.where(posts["has_video"], VIDEO_DIR + "/" + posts["post_id"] + ".mp4", None),
        width=config.video.width, height=config.video.height, fps=config.video.fps,
    )
    truth = posts.assign(
        expected_uplift=np.round(rates.expected_uplift, 5),
        expected_thumbstop=np.round(1 / (1 + np.exp(-rates.thumb_logit)), 5),
    )
    for col in ("hook", "authenticity", "polish", "topic_fit"):
        truth[col] = truth[col].round(4)
    creators = cast.creators
    return WorldTables(
        creators=creators[["creator_id", "handle", "follower_count", "is_brand_account"]],
        partnerships=cast.partnerships[["advertiser_id", "creator_id", "kind", "started_at", "usage_rights"]],
        posts=posts[["post_id", "advertiser_id", "creator_id", "posted_at", "caption", "video_path",
                     "spark_auth_status", "spark_auth_expires_at", "duration_s", "width", "height", "fps"]],
        metrics=metrics,
        spark_results=spark[[c.name for c in SPARK_RESULTS.columns]],
        baselines=baselines,
        spark_hourly=hourly,
        truth=truth[list(TRUTH_COLUMNS)],
        truth_boosts=truth_boosts,
        hidden=posts.merge(creators[["creator_id", "skin_b", "skin_g", "skin_r"]], on="creator_id", how="left"),
        advertisers=tuple(cast.advertisers),
    )
