"""A demo world whose brands have never boosted, seen week by week, and boosts drawn from its hidden truth.

For closed-loop runs (benchmarks/closed_loop.py): the world is generated as usual, but none of its past
Spark Ads are delivered. `known_at(t)` gives the contract tables as a team would have exported them at `t`:
posts posted by then (their Spark authorisation as it stood then: a code issued later reads as
"requested"), metric snapshots observed by then, partnerships started by then, in-feed baseline periods
that ended by then, and no Spark Ads. `draw_boosts` is the world's answer to a boost that someone
decided to run: its results come from the post's hidden paid response (`paid.spark_result`) with noise
drawn from a stream keyed by the world's seed and the post id only, so the same post boosted for the same
flight gives the same result whatever policy picked it, in whatever order, alongside whatever other posts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparkpick.config import WorldConfig
from sparkpick.contract import SPARK_RESULTS, as_utc
from sparkpick.errors import InputError
from sparkpick.sources.demo import paid
from sparkpick.sources.demo.tables import WorldTables, generate_tables
from sparkpick.sources.demo.world import Advertiser

# Separates the boost draws' random stream from the world's own (any fixed number would do).
DRAW_STREAM = 17_2026


@dataclass(frozen=True)
class FreshWorld:
    """A generated world, its posts' hidden paid response, and the seed its boost draws are keyed by."""

    tables: WorldTables
    rates: paid.PaidRates
    config: WorldConfig
    seed: int

    @property
    def advertisers(self) -> dict[str, Advertiser]:
        return {a.advertiser_id: a for a in self.tables.advertisers}

    @property
    def expected_uplift(self) -> pd.Series:
        """The true expected uplift of every post (truth side), by post_id."""
        truth = self.tables.truth
        return pd.Series(truth["expected_uplift"].to_numpy(float), index=truth["post_id"].astype(str))

    def known_at(self, t: pd.Timestamp) -> dict[str, pd.DataFrame]:
        """The contract tables as known at `t` (naive or aware UTC), with no Spark Ads."""
        t = as_utc(t)
        tb = self.tables
        hidden = tb.hidden.set_index("post_id")
        posts = tb.posts[tb.posts["posted_at"] <= t].copy()
        start = hidden.loc[posts["post_id"], "auth_start"].to_numpy()
        issued = pd.notna(start)
        started = issued & (pd.to_datetime(start) <= t)
        status = posts["spark_auth_status"].astype(object).to_numpy().copy()
        status[started] = "authorized"  # the reader reconstructs "expired" from the expiry
        status[issued & ~started] = "requested"
        posts["spark_auth_status"] = status
        posts["spark_auth_expires_at"] = posts["spark_auth_expires_at"].where(started)
        known = set(posts["post_id"])
        spark = pd.DataFrame({c.name: pd.Series(dtype="object") for c in SPARK_RESULTS.columns})
        return {
            "advertisers": tb.advertiser_table(),
            "creators": tb.creators,
            "partnerships": tb.partnerships[tb.partnerships["started_at"] <= t].reset_index(drop=True),
            "posts": posts.reset_index(drop=True),
            "metrics": tb.metrics[(tb.metrics["observed_at"] <= t) & tb.metrics["post_id"].isin(known)]
            .reset_index(drop=True),
            "spark_results": spark,
            "baselines": tb.baselines[tb.baselines["period_end"] <= t].reset_index(drop=True),
        }

    def draw_boosts(self, post_ids: list[str] | pd.Series, boosted_at: pd.Timestamp, days: int) -> pd.DataFrame:
        """One spark_results row per post: a flight of `days` days from `boosted_at` (rounded up to the
        hour) at the advertiser's daily boost budget, its results drawn from the post's hidden paid
        response with noise keyed by the world's seed and the post id. `boost_propensity` is left empty
        (the caller knows the policy that chose the post)."""
        if days < 1:
            raise InputError(f"A boost runs at least one day, not {days}.")
        row_of = {p: i for i, p in enumerate(self.tables.hidden["post_id"].astype(str))}
        unknown = [p for p in post_ids if str(p) not in row_of]
        if unknown:
            raise InputError(f"Post(s) {', '.join(map(str, unknown[:5]))} are not in this demo world.")
        start = as_utc(boosted_at).ceil("h")
        end = start + pd.Timedelta(days=days)
        month = start.to_period("M").to_timestamp()
        advertisers = self.advertisers
        rows = []
        for post in map(str, post_ids):
            i = row_of[post]
            adv = advertisers[self.tables.hidden["advertiser_id"].iat[i]]
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, DRAW_STREAM, post_key(post)]))
            result = paid.spark_result(adv, self.rates, i, adv.daily_boost_budget * days, month,
                                       self.config.effects.paid_noise, rng)
            result.pop("expected_conversions")
            rows.append({"post_id": post, "boosted_at": start, "ended_at": end, **result,
                         "boost_propensity": np.nan})
        out = pd.DataFrame(rows, columns=[c.name for c in SPARK_RESULTS.columns])
        out[["boosted_at", "ended_at"]] = out[["boosted_at", "ended_at"]].astype("datetime64[us]")
        return out


def post_key(post_id: str) -> int:
    """A stable 64-bit number for a post id (its random stream's key)."""
    return int(hashlib.sha256(post_id.encode("utf-8")).hexdigest()[:16], 16)


def fresh_world(config: WorldConfig, size: str, seed: int) -> FreshWorld:
    """The demo world of `size` and `seed` (the same tables `sparkpick world` writes), ready to be seen
    week by week without its past boosts."""
    tables = generate_tables(config, size, seed)
    rates = paid.paid_rates(tables.hidden, {a.advertiser_id: a for a in tables.advertisers}, config.effects)
    return FreshWorld(tables=tables, rates=rates, config=config, seed=seed)
