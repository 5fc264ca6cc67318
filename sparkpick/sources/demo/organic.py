"""Organic performance of demo posts and the engagement snapshots a collector would have taken.

Followers, hook and authenticity drive organic reach and engagement; polish helps somewhat with followers
(they chose to follow this account), which offsets the authenticity it costs, so produced posts do about as
well organically as native ones; topic fit barely matters organically. A creator's own engagement habit
(some audiences like and comment a lot) moves organic numbers and nothing paid. Virality is a heavy-tailed
lognormal with rare breakouts. Counts grow along a saturating curve (most views in the first two days, a
long tail after); snapshots are taken late and irregularly, some are missed, and each reports the post as it
was some hours earlier (TikTok's reporting lag), so early snapshots are noisy and often near zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparkpick.config import WorldConfig

# Reference follower count (log) around which engagement rates are centred; bigger accounts engage less.
REF_LOG_FOLLOWERS = np.log(50_000)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Organic:
    """Per-post organic parameters (arrays aligned with the posts frame)."""

    final_views: np.ndarray
    like_rate: np.ndarray
    comment_rate: np.ndarray
    share_rate: np.ndarray
    watch_fraction: np.ndarray
    full_watch: np.ndarray
    reach_ratio: np.ndarray
    tau_h: np.ndarray
    late_share: np.ndarray

    def curve(self, hours: np.ndarray) -> np.ndarray:
        """Share of final views reached `hours` after posting (0 at 0, rising to 1)."""
        h = np.maximum(hours, 0.0)
        fast = 1.0 - np.exp(-((h / self.tau_h) ** 1.2))
        slow = 1.0 - np.exp(-h / (self.tau_h * 10.0))
        return (1.0 - self.late_share) * fast + self.late_share * slow

    @staticmethod
    def early_engagement(hours: np.ndarray) -> np.ndarray:
        """Followers see a post first and engage more: the rate starts ~35 % higher and settles."""
        return 1.0 + 0.35 * np.exp(-np.maximum(hours, 0.0) / 18.0)

    def counts_at(self, hours: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Noisy cumulative counts at `hours` after posting."""
        n = len(hours)
        views = self.final_views * self.curve(hours) * np.exp(rng.normal(0, 0.03, n))
        mult = self.early_engagement(hours)
        likes = views * self.like_rate * mult * np.exp(rng.normal(0, 0.05, n))
        comments = views * self.comment_rate * mult * np.exp(rng.normal(0, 0.1, n))
        shares = views * self.share_rate * mult * np.exp(rng.normal(0, 0.1, n))
        return {"views": views, "likes": likes, "comments": comments, "shares": shares}


def organic_model(config: WorldConfig, posts: pd.DataFrame, creators: pd.DataFrame,
                  rng: np.random.Generator) -> Organic:
    eff = config.effects
    n = len(posts)
    by_id = creators.set_index("creator_id")
    followers = by_id.loc[posts["creator_id"], "follower_count"].to_numpy(float)
    eng_base = by_id.loc[posts["creator_id"], "engagement_base"].to_numpy(float)
    brand = by_id.loc[posts["creator_id"], "is_brand_account"].to_numpy(bool)
    ch, ca = posts["hook"].to_numpy() - 0.5, posts["authenticity"].to_numpy() - 0.5
    cp, cf = posts["polish"].to_numpy() - 0.5, posts["topic_fit"].to_numpy() - 0.5
    duration = posts["duration_s"].to_numpy(float)
    log_f = np.log(followers)

    breakout = np.where(rng.random(n) < 0.03, rng.uniform(1.5, 3.0, n), 0.0)
    log_views = (
        0.82 * log_f + 0.9 + 2.0 * ch + 0.6 * ca + eff.polish_organic_gain * cp + 0.3 * cf
        + 0.5 * eng_base - 0.8 * brand + rng.normal(0, eff.virality_noise, n) + breakout
    )
    like_rate = 0.05 * np.exp(
        1.4 * ch + 0.8 * ca + 0.3 * cf + eff.polish_organic_gain * cp + eng_base
        - 0.1 * (log_f - REF_LOG_FOLLOWERS) + rng.normal(0, 0.3, n)
    ) * np.where(brand, 0.8, 1.0)
    like_rate = np.clip(like_rate, 0.002, 0.35)
    comment_rate = 0.06 * like_rate * np.exp(1.0 * ca + rng.normal(0, 0.3, n))
    share_rate = 0.08 * like_rate * np.exp(1.0 * ch + 0.6 * cf + rng.normal(0, 0.35, n))
    watch = _sigmoid(-0.1 + 4.0 * ch + 2.0 * ca - 0.06 * (duration - 10.0) + rng.normal(0, 0.25, n))
    full = np.clip(watch**2.2 * rng.uniform(0.8, 1.1, n), 0.0, 1.0)
    reach_ratio = np.where(brand, rng.uniform(0.85, 0.97, n), rng.uniform(0.75, 0.92, n))
    return Organic(
        final_views=np.exp(log_views), like_rate=like_rate, comment_rate=comment_rate, share_rate=share_rate,
        watch_fraction=watch, full_watch=full, reach_ratio=reach_ratio,
        tau_h=rng.lognormal(np.log(20.0), 0.5, n), late_share=rng.uniform(0.05, 0.25, n),
    )


def snapshots(config: WorldConfig, posts: pd.DataFrame, organic: Organic, rng: np.random.Generator,
              end: pd.Timestamp) -> pd.DataFrame:
    """The metrics table: irregular, lagged, sometimes missing snapshots, none after the world's end."""
    cfg = config.organic
    n = len(posts)
    posted = posts["posted_at"]
    duration = posts["duration_s"].to_numpy(float)
    frames: list[pd.DataFrame] = []
    last_eff = np.zeros(n)
    running: dict[str, np.ndarray] = {}
    for nominal in cfg.snapshot_hours:
        observed_h = nominal + rng.uniform(0.2, 2.5, n) * (1.0 + nominal / 72.0)
        lag = cfg.max_report_lag_hours * rng.uniform(0, 1, n) ** 2  # usually a few hours, up to the max
        effective = np.maximum(np.maximum(observed_h - lag, 0.0), last_eff)  # never report an older state
        last_eff = effective
        counts = organic.counts_at(effective, rng)
        for key, value in counts.items():  # cumulative counts never go down
            running[key] = np.maximum(running.get(key, np.zeros(n)), np.floor(value))
        observed_at = (posted + pd.to_timedelta(observed_h, unit="h")).dt.floor("s")
        keep = (rng.random(n) >= cfg.snapshot_missing_rate) & (observed_at <= end).to_numpy()
        views = running["views"]
        reach = np.floor(views * organic.reach_ratio)
        reach_missing = rng.random(n) < cfg.reach_missing_rate
        if nominal >= 168:
            reach_missing |= rng.random(n) < cfg.reach_missing_after_7d_rate
        watch_noise = np.exp(rng.normal(0, 0.04, n))
        frame = pd.DataFrame({
            "post_id": posts["post_id"],
            "observed_at": observed_at,
            "views": views.astype(np.int64),
            "likes": np.minimum(running["likes"], views).astype(np.int64),
            "comments": running["comments"].astype(np.int64),
            "shares": running["shares"].astype(np.int64),
            "avg_watch_s": np.where(views > 0, np.round(duration * organic.watch_fraction * watch_noise, 2), 0.0),
            "full_watch_rate": np.where(
                views > 0, np.round(np.clip(organic.full_watch * watch_noise, 0, 1), 4), 0.0
            ),
            "reach": pd.array(np.where(reach_missing, -1, reach).astype(np.int64), dtype="Int64"),
        })
        frame.loc[reach_missing, "reach"] = pd.NA
        frames.append(frame[keep])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["post_id", "observed_at"], kind="stable").reset_index(drop=True)


def observed_engagement(posts: pd.DataFrame, organic: Organic, hours: np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """What a media buyer could see `hours` after posting (with reporting lag): views and engagement rate."""
    counts = organic.counts_at(hours, rng)
    views = np.maximum(np.floor(counts["views"]), 1.0)
    engagement = (counts["likes"] + counts["comments"] + counts["shares"]) / views
    return views, engagement
