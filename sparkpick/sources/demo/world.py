"""The demo world's cast and posts: advertisers, creators, partnerships, posts with hidden traits and
Spark authorisation codes.

Pure: a config and a seed in, tables out (no files, no clock). Hidden traits live in [0, 1]:
- `hook`: how strongly the first 2-3 seconds stop the thumb;
- `authenticity`: how much the post feels like a person talking to you rather than a brand;
- `polish`: production polish (studio look, cuts, graphics); a continuum, `produced` is its dominant style;
- `topic_fit`: how relevant the post is to the advertiser's product and buyers.
They drive both the rendered video (render.py) and the organic and paid outcomes (organic.py, paid.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sparkpick.config import WorldConfig, WorldSize
from sparkpick.contract import as_utc
from sparkpick.sources.demo import names

# Shares of the cast and posts: the brand's own account posts about a fifth of the content; two in five
# partners are ongoing, the rest one-off; a few creators work for two advertisers.
OWN_POST_SHARE = 0.22
ONGOING_SHARE = 0.4
SHARED_CREATOR_RATE = 0.08
# Usage rights granted by partnership kind (the brand's own account always has them).
RIGHTS_RATE = {"ongoing": 0.85, "one_off": 0.55}
# Posting hour-of-day weights (UTC): evenings dominate.
HOUR_WEIGHTS = np.array([3, 2, 1, 1, 1, 1, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 7, 8, 9, 10, 10, 9, 7, 5], float)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Advertiser:
    """One advertiser (brand) and its hidden market: in-feed ad economics and how traits move its results."""

    advertiser_id: str
    brand: names.Brand
    handle: str
    cpm: float
    ctr: float
    cvr: float
    thumbstop: float
    monthly_budget: float
    daily_boost_budget: float
    # Multipliers on the configured effects (context-dependence across brands).
    polish_mult: float
    hook_mult: float
    authenticity_mult: float
    topic_fit_mult: float
    familiarity_mult: float


@dataclass(frozen=True)
class Cast:
    advertisers: list[Advertiser]
    creators: pd.DataFrame  # contract columns plus hidden style columns
    partnerships: pd.DataFrame  # contract columns plus hidden pair fit


def _unique_ids(rng: np.random.Generator, n: int, low: int, high: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        fresh = (str(int(x)) for x in rng.integers(low, high, size=n - len(ids), dtype=np.int64))
        ids = list(dict.fromkeys([*ids, *fresh]))
    return ids


def _handle(rng: np.random.Generator, vertical: str, taken: set[str]) -> str:
    pattern = names.HANDLE_PATTERNS[rng.integers(len(names.HANDLE_PATTERNS))]
    handle = pattern.format(n=names.FIRST_NAMES[rng.integers(len(names.FIRST_NAMES))], v=vertical)
    while handle in taken:
        handle = f"{handle}{rng.integers(10)}"
    taken.add(handle)
    return handle


def _skin(rng: np.random.Generator) -> tuple[int, int, int]:
    """A skin tone (BGR) from light to deep, bright enough for a face detector to see shading on it."""
    t = rng.uniform(0, 1)
    light, deep = np.array([170, 190, 235]), np.array([75, 105, 160])
    return tuple(int(v) for v in (light * (1 - t) + deep * t))  # type: ignore[return-value]


def make_cast(config: WorldConfig, size: WorldSize, rng: np.random.Generator, start: pd.Timestamp) -> Cast:
    """Advertisers, each with its own brand account and partner creators, and the partnerships."""
    advertisers: list[Advertiser] = []
    spread = config.effects.effect_spread
    adv_ids = _unique_ids(rng, size.advertisers, 7_000_000_000_000_000_000, 7_400_000_000_000_000_000)
    creator_rows: list[dict[str, Any]] = []
    partner_rows: list[dict[str, Any]] = []
    taken: set[str] = set()
    creator_ids = iter(
        _unique_ids(
            rng, size.advertisers * size.creators_per_advertiser, 6_800_000_000_000_000_000, 6_999_999_999_999_999_999
        )
    )
    for i in range(size.advertisers):
        brand = names.BRANDS[i % len(names.BRANDS)]
        if i >= len(names.BRANDS):
            brand = names.Brand(f"{brand.name} {i // len(names.BRANDS) + 1}", *[getattr(brand, f) for f in
                                ("vertical", "product", "tags", "primary", "accent")])
        handle = brand.name.lower().replace(" & ", "and").replace(" ", "")
        taken.add(handle)
        adv = Advertiser(
            advertiser_id=adv_ids[i], brand=brand, handle=handle,
            cpm=float(rng.uniform(6.0, 12.0)), ctr=float(rng.uniform(0.006, 0.012)),
            cvr=float(rng.uniform(0.02, 0.05)), thumbstop=float(rng.uniform(0.24, 0.32)),
            monthly_budget=float(rng.lognormal(np.log(20_000), 0.5)),
            daily_boost_budget=float(rng.uniform(20, 150)),
            **{f"{k}_mult": float(rng.uniform(1 - spread, 1 + spread))
               for k in ("polish", "hook", "authenticity", "topic_fit", "familiarity")},
        )
        advertisers.append(adv)
        own_id = next(creator_ids)
        creator_rows.append({
            "creator_id": own_id, "handle": handle, "follower_count": int(rng.lognormal(np.log(120_000), 0.9)),
            "is_brand_account": True, "style_polish": np.nan, "base_authenticity": float(rng.beta(2.5, 4)),
            "hook_skill": float(rng.beta(2, 2)), "engagement_base": float(rng.normal(-0.2, 0.2)),
            "skin_b": 0, "skin_g": 0, "skin_r": 0,
        })
        partner_rows.append({
            "advertiser_id": adv.advertiser_id, "creator_id": own_id, "kind": "own",
            "started_at": start - rng.uniform(200, 900) * DAY, "usage_rights": True, "pair_fit": rng.beta(6, 2),
        })
        n_partners = size.creators_per_advertiser - 1
        n_ongoing = max(1, round(ONGOING_SHARE * n_partners))
        previous = [r["creator_id"] for r in creator_rows if not r["is_brand_account"]]
        for j in range(n_partners):
            kind = "ongoing" if j < n_ongoing else "one_off"
            reuse = previous and rng.random() < SHARED_CREATOR_RATE
            if reuse:
                cid = previous.pop(int(rng.integers(len(previous))))
            else:
                cid = next(creator_ids)
                studio = rng.random() < 0.07
                skin = _skin(rng)
                creator_rows.append({
                    "creator_id": cid, "handle": _handle(rng, brand.vertical, taken),
                    "follower_count": int(np.clip(rng.lognormal(np.log(40_000), 1.2), 800, 5_000_000)),
                    "is_brand_account": False,
                    "style_polish": float(rng.beta(6, 2) if studio else rng.beta(1.8, 4.5)),
                    "base_authenticity": float(rng.beta(5, 2)), "hook_skill": float(rng.beta(2, 2)),
                    "engagement_base": float(rng.normal(0, 0.3)),
                    "skin_b": skin[0], "skin_g": skin[1], "skin_r": skin[2],
                })
            if kind == "ongoing":
                started = start + rng.uniform(-240, 0.5 * size.days) * DAY
                fit = rng.beta(5, 2.5)
            else:
                started = start + rng.uniform(-10, size.days - 5) * DAY
                fit = rng.beta(2.5, 2.5)
            partner_rows.append({
                "advertiser_id": adv.advertiser_id, "creator_id": cid, "kind": kind,
                "started_at": started, "usage_rights": bool(rng.random() < RIGHTS_RATE[kind]), "pair_fit": fit,
            })
    creators = pd.DataFrame(creator_rows)
    partnerships = pd.DataFrame(partner_rows)
    partnerships["started_at"] = pd.to_datetime(partnerships["started_at"]).dt.floor("s")
    return Cast(advertisers, creators, partnerships)


def _post_times(
    rng: np.random.Generator, n: int, lo: pd.Timestamp, hi: pd.Timestamp
) -> list[pd.Timestamp]:
    """`n` posting moments between lo and hi, on random days at evening-heavy hours."""
    span_days = max((hi - lo) / DAY, 0.0)
    days = np.floor(rng.uniform(0, span_days, size=n))
    hours = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    secs = rng.integers(0, 3600, size=n)
    out = []
    for d, h, s in zip(days, hours, secs, strict=True):
        t = lo.normalize() + d * DAY + pd.Timedelta(hours=int(h), seconds=int(s))
        out.append(min(max(t, lo), hi))
    return out


def _allocate_posts(rng: np.random.Generator, n: int, kinds: list[str]) -> np.ndarray:
    """How many posts each creator of one advertiser makes: own ~22 %, one-offs 1-2 each, the rest ongoing."""
    counts = np.zeros(len(kinds), int)
    own = [i for i, k in enumerate(kinds) if k == "own"]
    ongoing = [i for i, k in enumerate(kinds) if k == "ongoing"]
    one_off = [i for i, k in enumerate(kinds) if k == "one_off"]
    counts[own] = rng.binomial(n, OWN_POST_SHARE)
    left = n - counts.sum()
    for i in one_off:
        take = min(left, 1 + rng.poisson(0.6))
        counts[i] = take
        left -= take
    if left > 0:
        weights = rng.gamma(2.0, 1.0, size=len(ongoing))
        counts[ongoing] += rng.multinomial(left, weights / weights.sum())
    return counts


def _post_id(rng: np.random.Generator, posted: pd.Timestamp, taken: set[str]) -> str:
    """A TikTok-like item id: the posting second in the high bits, random low bits (19 digits)."""
    while True:
        value = (int(posted.timestamp()) << 32) | int(rng.integers(0, 2**32))
        pid = str(value)
        if pid not in taken:
            taken.add(pid)
            return pid


def _caption(rng: np.random.Generator, adv: Advertiser, own: bool, polish: float, fit: float) -> str | None:
    if rng.random() < 0.03:
        return None
    brand = adv.brand
    pool: tuple[str, ...]
    if fit < 0.3 and rng.random() < 0.7:
        pool = names.OFF_TOPIC_CAPTIONS
    elif polish > 0.55 and rng.random() < 0.8:
        pool = names.PRODUCED_CAPTIONS
    else:
        pool = names.NATIVE_CAPTIONS
    text = pool[rng.integers(len(pool))].format(
        product=brand.product, brand=brand.name, tag=brand.tags[rng.integers(len(brand.tags))],
        brandtag=adv.handle, day=int(rng.integers(2, 30)),
        reply=names.FIRST_NAMES[rng.integers(len(names.FIRST_NAMES))],
    )
    if not own and rng.random() < 0.7:
        text = f"{text} {names.DISCLOSURES[rng.integers(len(names.DISCLOSURES))]}"
    return text


def make_posts(
    config: WorldConfig, size: WorldSize, cast: Cast, rng: np.random.Generator,
    start: pd.Timestamp, end: pd.Timestamp,
) -> pd.DataFrame:
    """Every post with its contract columns, hidden traits, video shape and authorisation window."""
    creators = cast.creators.set_index("creator_id")
    weights = rng.uniform(0.6, 1.4, size=len(cast.advertisers))
    per_adv = rng.multinomial(size.posts, weights / weights.sum())
    rows: list[dict[str, Any]] = []
    for adv, n_adv in zip(cast.advertisers, per_adv, strict=True):
        pairs = cast.partnerships[cast.partnerships["advertiser_id"] == adv.advertiser_id]
        counts = _allocate_posts(rng, int(n_adv), list(pairs["kind"]))
        for (_, pair), count in zip(pairs.iterrows(), counts, strict=True):
            if count == 0:
                continue
            if pair["kind"] == "one_off":
                campaign = max(pair["started_at"] + rng.uniform(3, 20) * DAY, start)
                lo, hi = campaign, min(campaign + 10 * DAY, end)
            else:
                lo, hi = max(start, pair["started_at"]), end
            for t in _post_times(rng, int(count), lo, hi):
                rows.append({"advertiser_id": adv.advertiser_id, "creator_id": pair["creator_id"],
                             "kind": pair["kind"], "usage_rights": bool(pair["usage_rights"]),
                             "pair_fit": float(pair["pair_fit"]), "posted_at": t})
    posts = pd.DataFrame(rows).sort_values(["posted_at", "creator_id"], kind="stable").reset_index(drop=True)
    n = len(posts)
    own = (posts["kind"] == "own").to_numpy()
    style = creators.loc[posts["creator_id"], "style_polish"].to_numpy(float)
    base_auth = creators.loc[posts["creator_id"], "base_authenticity"].to_numpy(float)
    hook_skill = creators.loc[posts["creator_id"], "hook_skill"].to_numpy(float)

    polish = np.where(own, rng.beta(5, 2.2, n), np.clip(np.nan_to_num(style) + rng.normal(0, 0.12, n), 0.02, 0.98))
    produced = polish + rng.normal(0, 0.07, n) > 0.5
    authenticity = np.clip(
        0.6 * base_auth + 0.2 * (1 - polish) + 0.2 * rng.uniform(0, 1, n) + rng.normal(0, 0.06, n), 0.01, 0.99
    )
    hook = np.clip(0.65 * rng.beta(2, 2, n) + 0.35 * hook_skill + rng.normal(0, 0.05, n), 0.01, 0.99)
    topic_fit = np.clip(posts["pair_fit"].to_numpy() + rng.normal(0, 0.15, n), 0.01, 0.99)
    posts["hook"], posts["authenticity"], posts["polish"], posts["topic_fit"] = hook, authenticity, polish, topic_fit
    posts["produced"] = produced
    # Familiarity: how many posts this creator made about this advertiser before (observable from posts).
    posts["prior_posts"] = posts.groupby(["advertiser_id", "creator_id"]).cumcount()

    video = config.video
    max_s = min(size.max_duration_s or video.max_duration_s, video.max_duration_s)
    mean_extra = video.mean_extra_duration_s * np.where(produced, 1.3, 1.0)
    extra = rng.gamma(1.5, mean_extra / 1.5)
    duration = np.clip(video.min_duration_s + extra, video.min_duration_s, max_s)
    frames = np.maximum(np.round(duration * video.fps).astype(int), 1)
    posts["n_frames"] = frames
    posts["duration_s"] = frames / video.fps
    posts["has_video"] = rng.random(n) >= video.missing_rate
    posts["render_seed"] = rng.integers(0, 2**62, size=n)

    taken: set[str] = set()
    posts["post_id"] = [_post_id(rng, t, taken) for t in posts["posted_at"]]
    adv_by_id = {a.advertiser_id: a for a in cast.advertisers}
    posts["caption"] = [
        _caption(rng, adv_by_id[a], o, p, f)
        for a, o, p, f in zip(posts["advertiser_id"], own, polish, topic_fit, strict=True)
    ]
    _authorise(config, posts, rng, end)
    return posts


def _authorise(config: WorldConfig, posts: pd.DataFrame, rng: np.random.Generator, end: pd.Timestamp) -> None:
    """Spark codes: whether one was requested or issued, when, for how long, and the state at world end."""
    auth = config.auth
    n = len(posts)
    own = (posts["kind"] == "own").to_numpy()
    rights = posts["usage_rights"].to_numpy(bool)
    u = rng.random(n)
    p_issued = np.where(own, auth.issued_own, np.where(rights, auth.issued_with_rights, auth.issued_without_rights))
    p_requested = np.where(own, 0.0, np.where(rights, auth.requested_with_rights, auth.requested_without_rights))
    issued = u < p_issued
    requested = (~issued) & (u < p_issued + p_requested)
    delay_days = np.where(own, rng.uniform(0.2, 3.0, n), rng.uniform(1.0, 8.0, n))
    weights = np.asarray(auth.lifetime_weights, float)
    lifetime = rng.choice(np.asarray(auth.lifetimes_days), size=n, p=weights / weights.sum())
    auth_start = posts["posted_at"] + pd.to_timedelta(delay_days, unit="D")
    auth_start = auth_start.dt.floor("s")
    auth_end = auth_start + pd.to_timedelta(lifetime, unit="D")
    not_yet = issued & (auth_start > end).to_numpy()
    requested = requested | (not_yet & ~own)
    issued = issued & ~not_yet
    expired = issued & (auth_end <= end).to_numpy()
    status = np.where(issued, np.where(expired, "expired", "authorized"), np.where(requested, "requested", "none"))
    posts["spark_auth_status"] = status
    posts["auth_start"] = auth_start.where(issued)
    posts["spark_auth_expires_at"] = auth_end.where(issued)


def world_start(size: WorldSize, end: pd.Timestamp) -> pd.Timestamp:
    return end - size.days * DAY


def world_end(config: WorldConfig) -> pd.Timestamp:
    return as_utc(config.end)
