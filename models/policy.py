"""The shortlist policy: which scored candidates fill an advertiser's K slots tonight, and with what chance.

Pure: a scored frame (every candidate, ranked by score), what is known about past and live boosts, and
the `policy` settings in; the same frame out with the policy's columns, and ranks reassigned so that each
advertiser's ranks 1..K are tonight's shortlist (so `sparkpick.shortlist.top_per_advertiser` cuts it).

- **No repeats.** A post with a live boost at T (`status` "live") is never shortlisted; a post boosted
  before (`status` "boosted_before") takes no fresh slot, and is marked `boost_again` when it would rank
  within K and its last boost came out above `policy.boost_again_min_uplift` (its `realised_uplift` shown
  beside the prediction). Both rank after every eligible post.
- **Only posts that can run take a slot.** A post that a blocking flag holds back
  (`features.readiness.BLOCKING_FLAGS`: no authorisation code, a code about to lapse, no usage rights,
  looks like an ad, numbers not settled) has `status` "blocked": it takes neither a fixed slot nor a test
  slot, so the K slots go to posts a team can boost tonight. Of these, the ones that would rank within K
  among the eligible posts (at most K per advertiser) are marked `held_back`, listed apart with what would
  free them (e.g. ask the creator for a code). Blocked posts rank after the eligible ones, before the live
  and boosted-before ones.
- **Test picks.** `slots_for_test_picks(K)` of the K slots go to posts drawn at random from the eligible
  posts below the fixed picks, for an advertiser with at least `policy.test_min_pool` x K eligible posts
  tonight (`has_room_for_tests`; a smaller pool fills its K slots by score, as a random slot among a few
  posts costs a large share of what the shortlist can capture): a Plackett-Luce draw without replacement
  (Gumbel top-m) with weights exp(z / temperature), z the score's z-score among the advertiser's eligible
  posts. The draw is seeded by (advertiser, night), so the same night gives the same picks.
- **Propensities.** `boost_propensity` is each candidate's marginal probability of being shortlisted
  tonight: 1 for a fixed pick (and for every eligible post when there are no more than K); 0 for the
  eligible posts below the K when the pool has no room for tests; exact w_i / sum(w) for a pool post
  when there is one test pick; otherwise the share of
  `policy.propensity_draws` seeded Monte Carlo draws of the same Plackett-Luce policy that include it
  (standard error at most 0.5 / sqrt(draws)). A blocked post has 0; a live or boosted-before post has
  none (NaN: not a candidate).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from features.readiness import BLOCKING_FLAGS
from sparkpick.config import PolicyConfig

ELIGIBLE, LIVE, BOOSTED_BEFORE, BLOCKED = "", "live", "boosted_before", "blocked"
POLICY_COLUMNS = (
    "status", "is_test_pick", "boost_propensity", "boost_again", "held_back", "realised_uplift", "score_rank",
)
_DRAW_BATCH = 2000


def slots_for_test_picks(k: int, share: float) -> int:
    """Test slots of a K-slot shortlist: round(share x K), at least one when K >= 3 (0 when share is 0)."""
    if share <= 0 or k <= 0:
        return 0
    slots = int(np.floor(share * k + 0.5))
    return min(k, max(slots, 1 if k >= 3 else 0))


def has_room_for_tests(eligible: int, k: int, min_pool: float) -> bool:
    """Whether `eligible` posts that can run are enough for test picks in a K-slot shortlist: more than K,
    and at least `min_pool` x K."""
    return eligible > k and eligible >= min_pool * k


def night_seed(advertiser_id: str, as_of: pd.Timestamp) -> int:
    """The draw's seed for one advertiser on one night (the as-of date, UTC)."""
    night = pd.Timestamp(as_of).strftime("%Y-%m-%d")
    return int(hashlib.sha256(f"{advertiser_id}|{night}".encode()).hexdigest()[:16], 16)


def gumbel_top(log_weights: np.ndarray, m: int, rng: np.random.Generator, draws: int = 1) -> np.ndarray:
    """(draws, m) indices of Plackett-Luce samples without replacement (Gumbel top-m), best first."""
    keys = log_weights[None, :] + rng.gumbel(size=(draws, len(log_weights)))
    top = np.argpartition(-keys, m - 1, axis=1)[:, :m]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def inclusion_probabilities(
    log_weights: np.ndarray, m: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Each item's probability of being among the m drawn: exact for m = 1 and m >= n, else Monte Carlo."""
    n = len(log_weights)
    if m <= 0 or n == 0:
        return np.zeros(n)
    if m >= n:
        return np.ones(n)
    if m == 1:
        w = np.exp(log_weights - log_weights.max())
        return w / w.sum()
    counts = np.zeros(n)
    done = 0
    while done < draws:
        batch = min(_DRAW_BATCH, draws - done)
        picked = gumbel_top(log_weights, m, rng, batch)
        counts += np.bincount(picked.ravel(), minlength=n)
        done += batch
    return counts / draws


def _blocked(frame: pd.DataFrame) -> np.ndarray:
    """Whether each row carries a flag that holds its boost back (`BLOCKING_FLAGS`)."""
    out = np.zeros(len(frame), dtype=bool)
    for flag in BLOCKING_FLAGS:
        if flag in frame.columns:
            out |= frame[flag].fillna(False).astype(bool).to_numpy()
    return out


def apply_policy(
    scored: pd.DataFrame, history: pd.DataFrame, config: PolicyConfig, k: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """`scored` (one row per candidate with `advertiser_id`, `post_id`, `score`, `rank`, flags) with the
    policy's columns (`POLICY_COLUMNS`) and `rank` reassigned: per advertiser, fixed picks by score, then
    tonight's test picks, then the other eligible posts, then the blocked ones, then the live and
    boosted-before ones.
    `history` has one row per post with a past or live boost: `post_id`, `live` (bool), `realised_uplift`."""
    out = scored.copy()
    out["score_rank"] = out["rank"].astype(int)
    hist = history.drop_duplicates("post_id", keep="last").set_index("post_id") if len(history) else None
    status = pd.Series(ELIGIBLE, index=out.index, dtype=object)
    realised = pd.Series(np.nan, index=out.index, dtype="float64")
    if hist is not None:
        known = out["post_id"].map(hist["live"])
        status[known.eq(True).fillna(False).astype(bool)] = LIVE
        status[known.eq(False).fillna(False).astype(bool)] = BOOSTED_BEFORE
        realised = pd.to_numeric(out["post_id"].map(hist["realised_uplift"]), errors="coerce").astype("float64")
    status[(status == ELIGIBLE) & _blocked(out)] = BLOCKED
    out["status"] = status.astype(str)
    out["realised_uplift"] = realised.where(out["status"].isin([LIVE, BOOSTED_BEFORE]))
    out["is_test_pick"] = False
    out["boost_propensity"] = np.nan
    out["boost_again"] = False
    out["held_back"] = False
    new_rank = pd.Series(0, index=out.index, dtype="int64")
    for advertiser, rows in out.groupby("advertiser_id", sort=False):
        rows = rows.sort_values(["score", "post_id"], ascending=[False, True], kind="stable")
        eligible = rows[rows["status"] == ELIGIBLE]
        blocked = rows.index[rows["status"] == BLOCKED]
        n = len(eligible)
        # more eligible posts than slots: the pool below the fixed picks is always larger than the test slots
        slots = slots_for_test_picks(k, config.test_share) if has_room_for_tests(n, k, config.test_min_pool) else 0
        fixed = eligible.index[: k - slots] if n > k else eligible.index
        pool = eligible.index[len(fixed):]
        picks: list[Any] = []
        out.loc[eligible.index, "boost_propensity"] = 0.0
        out.loc[blocked, "boost_propensity"] = 0.0
        out.loc[fixed, "boost_propensity"] = 1.0
        if slots:
            scores = eligible["score"].to_numpy(dtype="float64")
            sd = float(np.std(scores))
            z = (rows.loc[pool, "score"].to_numpy(dtype="float64") - float(np.mean(scores))) / (sd or 1.0)
            log_w = z / config.temperature
            seed = night_seed(str(advertiser), as_of)
            drawn = gumbel_top(log_w, slots, np.random.default_rng([seed, 0]))[0]
            picks = list(pool[np.sort(drawn)])  # in score order
            out.loc[pool, "boost_propensity"] = inclusion_probabilities(
                log_w, slots, config.propensity_draws, np.random.default_rng([seed, 1]))
            out.loc[picks, "is_test_pick"] = True
        rest = [i for i in pool if i not in set(picks)]
        excluded = rows.index[rows["status"].isin([LIVE, BOOSTED_BEFORE])]
        order = [*fixed, *picks, *rest, *blocked, *excluded]
        new_rank[order] = np.arange(1, len(order) + 1)
        kth = eligible["score"].iloc[min(k, n) - 1] if n else -np.inf
        promising = rows.loc[blocked]
        promising = promising[promising["score"] >= kth].index[:k]
        out.loc[promising, "held_back"] = True
        if len(excluded):
            again = rows.loc[excluded]
            worth = ((again["status"] == BOOSTED_BEFORE) & (again["score"] >= kth)
                     & (out.loc[excluded, "realised_uplift"] > config.boost_again_min_uplift))
            out.loc[worth[worth].index, "boost_again"] = True
    out["rank"] = new_rank.astype(int)
    return out.sort_values(["advertiser_id", "rank"], kind="stable").reset_index(drop=True)


def boost_history(
    results: pd.DataFrame, hourly: pd.DataFrame | None, as_of: pd.Timestamp, realised: pd.Series | None = None
) -> pd.DataFrame:
    """One row per post boosted by `as_of` (naive UTC): `live` when a boost of it is running at `as_of`
    (its results row has not ended by then, or it has hourly delivery and no results row that ended by
    then), and `realised_uplift`, the last finished boost's (from `realised`, aligned with `results`)."""
    as_of = pd.Timestamp(as_of)
    cols = ["post_id", "live", "realised_uplift"]
    res = results.copy()
    res["realised_uplift"] = realised.to_numpy() if realised is not None else np.nan
    started = res[pd.to_datetime(res["boosted_at"]) <= as_of]
    ended = started[pd.to_datetime(started["ended_at"]) <= as_of]
    running = set(started.loc[pd.to_datetime(started["ended_at"]) > as_of, "post_id"].astype(str))
    if hourly is not None and len(hourly):
        h = hourly[pd.to_datetime(hourly["boosted_at"]) <= as_of][["post_id", "boosted_at"]].drop_duplicates()
        done = set(zip(ended["post_id"].astype(str), pd.to_datetime(ended["boosted_at"]), strict=True))
        running |= {str(p) for p, b in zip(h["post_id"], pd.to_datetime(h["boosted_at"]), strict=True)
                    if (str(p), b) not in done}
    last = ended.sort_values("boosted_at", kind="stable").drop_duplicates("post_id", keep="last")
    posts = sorted(set(last["post_id"].astype(str)) | running)
    if not posts:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame({"post_id": posts})
    frame["live"] = frame["post_id"].isin(running)
    frame["realised_uplift"] = frame["post_id"].map(
        last.set_index(last["post_id"].astype(str))["realised_uplift"]).astype("float64")
    return frame[cols]


def join_propensities(results: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """`results` (spark_results rows) with `boost_propensity` filled from the latest score of the same
    advertiser's post scored before its `boosted_at`, where the file did not carry one (a brand's own
    logged propensity wins), and `propensity_as_of`: the night that propensity was scored (NaT when the
    file's own, or none). A boost with neither keeps none: counted as "no propensity", never invented;
    a propensity of 0 (the post was blocked that night, boosted outside the shortlist) is none too."""
    out = results.copy()
    own = pd.to_numeric(out.get("boost_propensity", pd.Series(np.nan, index=out.index)), errors="coerce")
    out["boost_propensity"] = own.astype("float64")
    out["propensity_as_of"] = pd.NaT
    if scores is None or scores.empty or "boost_propensity" not in scores.columns or out.empty:
        return out
    s = scores[["post_id", "as_of", "boost_propensity"]].copy()
    s["as_of"] = pd.to_datetime(s["as_of"]).astype("datetime64[us]")
    s = s[pd.to_numeric(s["boost_propensity"], errors="coerce").notna()]
    s = s.sort_values("as_of", kind="stable")
    need = out.index[out["boost_propensity"].isna()]
    if not len(need) or s.empty:
        return out
    left = pd.DataFrame({"row": need, "post_id": out.loc[need, "post_id"].astype(str),
                         "boosted_at": pd.to_datetime(out.loc[need, "boosted_at"]).astype("datetime64[us]")})
    left = left.sort_values("boosted_at", kind="stable")
    s["post_id"] = s["post_id"].astype(str)
    joined = pd.merge_asof(left, s, left_on="boosted_at", right_on="as_of", by="post_id",
                           direction="backward", allow_exact_matches=False)
    p = pd.to_numeric(joined["boost_propensity"], errors="coerce")
    ok = p.gt(0) & p.le(1)
    rows = joined.loc[ok, "row"].to_numpy()
    out.loc[rows, "boost_propensity"] = p[ok].to_numpy()
    out.loc[rows, "propensity_as_of"] = joined.loc[ok, "as_of"].to_numpy()
    return out
