"""Does the live-boost monitor pause the right boosts? Backtest on demo worlds against their true cost ratios.

For each seed: generate a demo world's tables (no videos needed), then replay every past boost's first 96
hours as if it were live: the monitor runs every 6 hours (00, 06, 12, 18 UTC) and looks at every boost
in its first 96 hours that still delivers, seeing only the hourly rows that ended by then, with delivery
norms (lag, learning phase, fast signals, priors) fitted on the boosts finished by the start of that week,
and the in-feed baseline as of then. Beside it, TikTok's
automated-rule template at the same checkpoints with the same baseline: pause IF CPA (lifetime) > 1.3x
the in-feed CPA AND conversions > 0; pause IF cost (lifetime) > 2x the in-feed CPA AND conversions < 1.

Truth (`truth_boosts`, read here only): a boost is good when its settled cost per conversion is below
the advertiser's in-feed one (ratio < 1), bad when it is over 25 % dearer (ratio > 1.25). Printed for
both methods: good boosts ever paused, bad boosts paused within 48 h and within 96 h, the share of the
bad boosts' spend saved (spend after the pause) and of the good boosts' spend lost. Goal: the monitor
pauses at most 5 % of good boosts and saves at least 40 % of the bad boosts' spend.

    nice -n 10 .venv/bin/python benchmarks/monitor.py --seeds 1 2 3 --size default
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from models import monitor
from sparkpick.config import Settings, load_settings
from sparkpick.sources.demo.tables import generate_tables

HOUR = pd.Timedelta(hours=1)
CHECK_EVERY_H = 6
HORIZON_H = 96
RULE_CPA_X = 1.3
RULE_COST_Y = 2.0
GOOD_BELOW = 1.0
BAD_ABOVE = 1.25


def replay_world(settings: Settings, size: str, seed: int) -> pd.DataFrame:
    """One row per past boost: truth, total spend, and each method's first pause (hours, inf = never)."""
    tables = generate_tables(settings.world, size, seed)
    hourly, results, baselines = tables.spark_hourly, tables.spark_results, tables.baselines
    posts = tables.posts[["post_id", "advertiser_id"]]
    truth = tables.truth_boosts[~tables.truth_boosts["live"]]
    boosts = results.merge(posts, on="post_id").merge(truth[["post_id", "boosted_at", "true_cost_ratio"]])
    boosts = boosts.reset_index(drop=True)
    keys = list(zip(boosts["post_id"], boosts["boosted_at"], strict=True))
    by_boost = {k: g for k, g in hourly.groupby(["post_id", "boosted_at"], sort=False)}
    first_monitor = np.full(len(boosts), np.inf)
    first_rule = np.full(len(boosts), np.inf)
    paused_at: dict[str, list] = {"monitor": [pd.NaT] * len(boosts), "rule": [pd.NaT] * len(boosts)}
    norms_by_week: dict[pd.Timestamp, monitor.DeliveryNorms] = {}
    # The monitor runs on a clock, every CHECK_EVERY_H hours; each run looks at every boost in its first
    # HORIZON_H hours that still delivers (a boost past its end cannot be paused any more).
    clock = pd.date_range(boosts["boosted_at"].min().ceil(f"{CHECK_EVERY_H}h"), boosts["ended_at"].max(),
                          freq=f"{CHECK_EVERY_H}h")
    for t in clock:
        age = (t - boosts["boosted_at"]) / HOUR
        now = np.flatnonzero(((age > 0) & (age <= HORIZON_H) & (boosts["ended_at"] > t)).to_numpy())
        if len(now) == 0:
            continue
        week = t.normalize() - pd.Timedelta(days=t.day_of_week)
        if week not in norms_by_week:
            norms_by_week[week] = monitor.fit_delivery_norms(hourly, results, baselines, posts, week,
                                                             settings.monitor)
        rows = pd.concat([by_boost[keys[i]] for i in now], ignore_index=True)
        out = monitor.assess_boosts(rows, boosts.loc[now, ["post_id", "boosted_at", "advertiser_id"]], baselines,
                                    norms_by_week[week], t, settings.monitor, settings.ranker.band_coverage)
        out = out.set_index(["post_id", "boosted_at"]).loc[[keys[i] for i in now]]
        base_cpa, spend, conv = out["baseline_cpa"].to_numpy(), out["spend"].to_numpy(), out["conversions"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rule = np.isfinite(base_cpa) & (((conv > 0) & (spend / conv > RULE_CPA_X * base_cpa))
                                            | ((conv < 1) & (spend > RULE_COST_Y * base_cpa)))
        for j, i in enumerate(now):
            if np.isinf(first_monitor[i]) and out["decision"].iat[j] == "pause":
                first_monitor[i], paused_at["monitor"][i] = age.iat[i], t
            if np.isinf(first_rule[i]) and rule[j]:
                first_rule[i], paused_at["rule"][i] = age.iat[i], t

    def saved(i: int, when: pd.Timestamp) -> float:
        if pd.isna(when):
            return 0.0
        h = by_boost[keys[i]]
        return float(h.loc[h["hour_start"] >= when, "spend"].sum())

    return pd.DataFrame({
        "seed": seed, "post_id": boosts["post_id"], "ratio": boosts["true_cost_ratio"],
        "spend": boosts["spend"].astype(float), "monitor_first": first_monitor, "rule_first": first_rule,
        "monitor_saved": [saved(i, w) for i, w in enumerate(paused_at["monitor"])],
        "rule_saved": [saved(i, w) for i, w in enumerate(paused_at["rule"])],
    })


def summary(frame: pd.DataFrame, method: str) -> dict[str, float]:
    good, bad = frame[frame["ratio"] < GOOD_BELOW], frame[frame["ratio"] > BAD_ABOVE]
    first = f"{method}_first"
    return {
        "good boosts": len(good), "bad boosts": len(bad),
        "good ever paused": float(np.isfinite(good[first]).mean()),
        "bad paused by 48 h": float((bad[first] <= 48).mean()),
        "bad paused by 96 h": float((bad[first] <= 96).mean()),
        "bad spend saved": float(bad[f"{method}_saved"].sum() / bad["spend"].sum()),
        "good spend lost": float(good[f"{method}_saved"].sum() / good["spend"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--size", default="default")
    args = parser.parse_args()
    settings = load_settings()
    frames = []
    for seed in args.seeds:
        start = time.perf_counter()
        frame = replay_world(settings, args.size, seed)
        frames.append(frame)
        s_m, s_r = summary(frame, "monitor"), summary(frame, "rule")
        print(f"seed {seed} ({args.size}, {len(frame)} boosts, {time.perf_counter() - start:.0f} s): "
              f"good paused monitor {s_m['good ever paused']:.1%} / rule {s_r['good ever paused']:.1%}; "
              f"bad spend saved monitor {s_m['bad spend saved']:.1%} / rule {s_r['bad spend saved']:.1%}")
    pooled = pd.concat(frames, ignore_index=True)
    table = pd.DataFrame({"sparkpick monitor": summary(pooled, "monitor"),
                          "TikTok rule template": summary(pooled, "rule")})
    print(f"\nPooled over seeds {' '.join(map(str, args.seeds))} ({args.size} worlds), checks every "
          f"{CHECK_EVERY_H} h over each boost's first {HORIZON_H} h:")
    shown = table.copy().astype(object)
    for idx in shown.index:
        for col in shown.columns:
            v = table.loc[idx, col]
            shown.loc[idx, col] = f"{int(v)}" if idx.endswith("boosts") else f"{v:.1%}"
    print(shown.to_string())


if __name__ == "__main__":
    main()
