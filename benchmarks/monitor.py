"""Does the live-boost monitor save money? Backtest on demo worlds against their true cost ratios.

For each world (a demo world's tables, no videos needed; `--sizes` x `--seeds`, and `--worlds` base and/or
close_losers, the overlay benchmarks/worlds/close_losers.yaml whose losers are rare and close to the
in-feed cost), replay every past boost's first 96 hours as if it were live: the monitor is deployed every
6 hours (`monitor.cron` set to DEPLOYED_CRON, in nightly.timezone) and each run looks at every boost in
its first 96 hours that still delivers, seeing only the hourly rows that ended by then, with delivery
norms (lag, learning phase, fast signals, priors, and the pause calibration replayed on the boosts
finished by then, at the looks that same cron makes) fitted at the start of that week, and the in-feed
baseline as of then. Three policies at the same checkpoints with the same baseline:

- `monitor`: sparkpick's decision (models/monitor/: pause on money within the calibrated false-pause
  budget, or when proven dearer);
- `previous`: the previous monitor, which paused only when the anytime-valid test proved the boost dearer
  (`previous_monitor_pauses`, from the same assessment's `e_pause`);
- `rule`: TikTok's automated-rule template: pause IF CPA (lifetime) > 1.3x the in-feed CPA AND
  conversions > 0; pause IF cost (lifetime) > 2x the in-feed CPA AND conversions < 1.

Truth (`truth_boosts`, read here only): a boost is good when its settled cost per conversion is below the
advertiser's in-feed one (ratio < 1), bad when it is over 25 % dearer (ratio > 1.25). Per policy: good
boosts ever paused, bad boosts paused within 48 h and 96 h, the share of the bad boosts' spend saved (spend
after the pause) and of the good boosts' spend lost, and the net money saved: over every paused boost, the
spend after the pause times (1 - 1 / true ratio), what that money buys in-feed beyond what the boost would
have bought (negative for a good boost: money lost), in the advertisers' currencies, summed.
Goals (issue 20): good ever paused <= 5 %; bad paused by 48 h >= 50 %; bad spend saved >= 40 % on every
world; good spend lost <= 2 %; net money saved ahead of the rule template on every world.

    nice -n 10 .venv/bin/python benchmarks/monitor.py --sizes small default --seeds 1 2 3 4 5 \\
        --worlds base close_losers
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from models import monitor
from models.monitor.schedule import HOUR_NS, looked_hours
from sparkpick.config import Settings, load_settings
from sparkpick.sources.demo.tables import generate_tables

HOUR = pd.Timedelta(hours=1)
# The deployment the benchmark replays: the monitor every 6 hours (a real one runs on monitor.cron).
DEPLOYED_CRON = "0 */6 * * *"
HORIZON_H = 96
RULE_CPA_X = 1.3
RULE_COST_Y = 2.0
GOOD_BELOW = 1.0
# The posterior is "clear" that a boost is dearer than in-feed once P(dearer) reaches this (hindsight).
CLEAR = 0.9
BAD_ABOVE = 1.25
METHODS = {"monitor": "sparkpick monitor", "previous": "previous monitor (proven only)",
           "rule": "TikTok rule template"}
WORLDS = {"base": None, "close_losers": Path(__file__).parent / "worlds" / "close_losers.yaml"}


def previous_monitor_pauses(out: pd.DataFrame, norms: monitor.DeliveryNorms, settings: Settings) -> np.ndarray:
    """The previous monitor's pause: only when the anytime-valid test reached 1 / (1 - pause_confidence),
    past the same too-early gates, and only with fitted norms."""
    judged = (out["decision"] != "too_early").to_numpy() & norms.fitted
    return judged & (out["e_pause"].to_numpy() >= 1 / (1 - settings.monitor.pause_confidence))


def replay_world(settings: Settings, size: str, seed: int) -> pd.DataFrame:
    """One row per past boost: truth, total spend, and each method's first pause (hours, inf = never)."""
    settings = settings.model_copy(update={"monitor": settings.monitor.model_copy(update={"cron": DEPLOYED_CRON})})
    tables = generate_tables(settings.world, size, seed)
    hourly, results, baselines = tables.spark_hourly, tables.spark_results, tables.baselines
    posts = tables.posts[["post_id", "advertiser_id"]]
    truth = tables.truth_boosts[~tables.truth_boosts["live"]]
    boosts = results.merge(posts, on="post_id").merge(truth[["post_id", "boosted_at", "true_cost_ratio"]])
    boosts = boosts.reset_index(drop=True)
    keys = list(zip(boosts["post_id"], boosts["boosted_at"], strict=True))
    by_boost = {k: g for k, g in hourly.groupby(["post_id", "boosted_at"], sort=False)}
    first = {m: np.full(len(boosts), np.inf) for m in METHODS}
    paused_at: dict[str, list] = {m: [pd.NaT] * len(boosts) for m in METHODS}
    # Whether the money rule had a calibrated threshold for the boost at some look (else: proven only).
    calibrated = np.zeros(len(boosts), bool)
    # Per boost, for the hindsight analysis (`hindsight`): when the posterior was first clear that it is
    # dearer, and each look's money statistic with the spend still to come after it.
    clear_at = np.full(len(boosts), np.inf)
    looks: list[list[str]] = [[] for _ in range(len(boosts))]
    why = [""] * len(boosts)  # the monitor's pause: "money" (the calibrated rule) or "proven" (dearer)
    norms_by_week: dict[pd.Timestamp, monitor.DeliveryNorms] = {}
    # The monitor runs on its cron; each run looks at every boost in its first HORIZON_H hours that still
    # delivers (a boost past its end cannot be paused any more), at the last hour end the run sees.
    runs = looked_hours(settings.monitor.cron, settings.nightly.timezone, boosts["boosted_at"].min(),
                        boosts["ended_at"].max())
    clock = pd.to_datetime(np.asarray(runs) * HOUR_NS)
    for t in clock:
        age = (t - boosts["boosted_at"]) / HOUR
        now = np.flatnonzero(((age > 0) & (age <= HORIZON_H) & (boosts["ended_at"] > t)).to_numpy())
        if len(now) == 0:
            continue
        week = t.normalize() - pd.Timedelta(days=t.day_of_week)
        if week not in norms_by_week:
            norms_by_week[week] = monitor.fit_delivery_norms(hourly, results, baselines, posts, week,
                                                             settings.monitor, settings.nightly.timezone)
        norms = norms_by_week[week]
        rows = pd.concat([by_boost[keys[i]] for i in now], ignore_index=True)
        out = monitor.assess_boosts(rows, boosts.loc[now, ["post_id", "boosted_at", "advertiser_id"]], baselines,
                                    norms, t, settings.monitor, settings.ranker.band_coverage)
        out = out.set_index(["post_id", "boosted_at"]).loc[[keys[i] for i in now]]
        base_cpa, spend, conv = out["baseline_cpa"].to_numpy(), out["spend"].to_numpy(), out["conversions"].to_numpy()
        calibrated[now] |= np.isfinite(out["pause_threshold"].to_numpy()) & norms.usable
        dearer, stat = out["prob_dearer"].to_numpy(), out["money_statistic"].to_numpy()
        for j, i in enumerate(now):
            if dearer[j] >= CLEAR and not np.isfinite(clear_at[i]):
                clear_at[i] = age.iat[i]
            if np.isfinite(stat[j]) and out["decision"].iat[j] != "too_early":
                h = by_boost[keys[i]]
                left = float(h.loc[h["hour_start"] >= t, "spend"].sum())
                looks[i].append(f"{age.iat[i]:.0f}:{stat[j]:.3f}:{left:.2f}")
        with np.errstate(divide="ignore", invalid="ignore"):
            rule = np.isfinite(base_cpa) & (((conv > 0) & (spend / conv > RULE_CPA_X * base_cpa))
                                            | ((conv < 1) & (spend > RULE_COST_Y * base_cpa)))
        pauses = {"monitor": (out["decision"] == "pause").to_numpy(),
                  "previous": previous_monitor_pauses(out, norms, settings), "rule": rule}
        on_money = stat > out["pause_threshold"].to_numpy()
        for m, paused in pauses.items():
            for j in np.flatnonzero(paused):
                i = now[j]
                if np.isinf(first[m][i]):
                    first[m][i], paused_at[m][i] = age.iat[i], t
                    if m == "monitor":
                        why[i] = "money" if on_money[j] else "proven"

    def saved(i: int, when: pd.Timestamp) -> float:
        if pd.isna(when):
            return 0.0
        h = by_boost[keys[i]]
        return float(h.loc[h["hour_start"] >= when, "spend"].sum())

    frame = pd.DataFrame({"seed": seed, "size": size, "post_id": boosts["post_id"],
                          "ratio": boosts["true_cost_ratio"], "spend": boosts["spend"].astype(float),
                          "calibrated": calibrated, "clear_at": clear_at, "monitor_why": why,
                          "looks": [";".join(x) for x in looks]})
    for m in METHODS:
        frame[f"{m}_first"] = first[m]
        frame[f"{m}_saved"] = [saved(i, w) for i, w in enumerate(paused_at[m])]
    return frame


def summary(frame: pd.DataFrame, method: str) -> dict[str, float]:
    good, bad = frame[frame["ratio"] < GOOD_BELOW], frame[frame["ratio"] > BAD_ABOVE]
    first, saved = f"{method}_first", f"{method}_saved"
    return {
        "good boosts": len(good), "bad boosts": len(bad),
        "good ever paused": float(np.isfinite(good[first]).mean()),
        "bad paused by 48 h": float((bad[first] <= 48).mean()),
        "bad paused by 96 h": float((bad[first] <= 96).mean()),
        "bad spend saved": float(bad[saved].sum() / bad["spend"].sum()),
        "good spend lost": float(good[saved].sum() / good["spend"].sum()),
        "net money saved": float((frame[saved] * (1 - 1 / frame["ratio"])).sum()),
    }


def hindsight(frame: pd.DataFrame) -> dict[str, float]:
    """What a single threshold on the money statistic could have done on this world's own boosts, chosen
    in hindsight (an oracle, not a policy): the smallest with good boosts ever paused <= 5% and good spend
    lost <= 2% here, and the bad boosts it would have paused by 48 h; and the share of bad boosts whose
    posterior was clear (P(dearer) >= CLEAR) by 48 h."""
    def parsed(text: object) -> np.ndarray:
        items = [x.split(":") for x in str(text).split(";")] if isinstance(text, str) and text else []
        return np.asarray(items, dtype=float).reshape(-1, 3)

    good, bad = frame[frame["ratio"] < GOOD_BELOW], frame[frame["ratio"] > BAD_ABOVE]
    g_looks, b_looks = [parsed(x) for x in good["looks"]], [parsed(x) for x in bad["looks"]]
    g_spend = float(good["spend"].sum())

    def good_cost(k: float) -> tuple[float, float]:
        hits = [x[np.argmax(x[:, 1] > k), 2] for x in g_looks if len(x) and (x[:, 1] > k).any()]
        return len(hits) / max(len(good), 1), float(sum(hits)) / g_spend if g_spend > 0 else 0.0

    lo, hi = -50.0, 50.0
    for _ in range(40):
        mid = (lo + hi) / 2
        paused, lost = good_cost(mid)
        lo, hi = (lo, mid) if paused <= 0.05 and lost <= 0.02 else (mid, hi)
    by48 = [bool(len(x) and ((x[:, 0] <= 48) & (x[:, 1] > hi)).any()) for x in b_looks]
    on = good["monitor_why"].fillna("")
    return {"good paused on money": int((on == "money").sum()), "good paused on proof": int((on == "proven").sum()),
            "oracle threshold": hi, "bad by 48 h at the oracle threshold": float(np.mean(by48)) if by48 else np.nan,
            "bad clear by 48 h": float((bad["clear_at"] <= 48).mean()) if len(bad) else np.nan}


def goals_met(s: dict[str, float], rule: dict[str, float]) -> list[str]:
    """The issue's goals this summary misses (empty: all met)."""
    misses = []
    if s["good ever paused"] > 0.05:
        misses.append("good ever paused > 5%")
    if s["bad paused by 48 h"] < 0.5:
        misses.append("bad paused by 48 h < 50%")
    if s["bad spend saved"] < 0.4:
        misses.append("bad spend saved < 40%")
    if s["good spend lost"] > 0.02:
        misses.append("good spend lost > 2%")
    if s["net money saved"] <= rule["net money saved"]:
        misses.append("net money saved not ahead of the rule")
    return misses


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    shown = table.copy().astype(object)
    for idx in shown.index:
        for col in shown.columns:
            v = table.loc[idx, col]
            shown.loc[idx, col] = (f"{int(v)}" if idx.endswith("boosts") else f"{v:,.0f}" if idx.startswith("net")
                                   else f"{v:.1%}")
    return shown


def _world_line(world: str, size: str, seed: int, frame: pd.DataFrame, s: dict[str, dict[str, float]],
                misses: list[str], seconds: float | None) -> str:
    took = f", {seconds:.0f} s" if seconds is not None else ""
    return (f"{world} {size} seed {seed} ({len(frame)} boosts, {s['monitor']['bad boosts']} bad{took}): good paused "
            + " / ".join(f"{s[m]['good ever paused']:.1%}" for m in METHODS)
            + "; bad by 48 h " + " / ".join(f"{s[m]['bad paused by 48 h']:.0%}" for m in METHODS)
            + "; bad spend saved " + " / ".join(f"{s[m]['bad spend saved']:.1%}" for m in METHODS)
            + "; good spend lost " + " / ".join(f"{s[m]['good spend lost']:.1%}" for m in METHODS)
            + "; net saved " + " / ".join(f"{s[m]['net money saved']:,.0f}" for m in METHODS)
            + f"; bad with a calibrated rule {_calibrated_bad(frame):.0%}"
            + ("; good paused on money / on proof {good paused on money} / {good paused on proof}; hindsight: bad "
               "clear by 48 h {bad clear by 48 h:.0%}, by 48 h at an oracle threshold "
               "{bad by 48 h at the oracle threshold:.0%}".format(**hindsight(frame)) if "looks" in frame else "")
            + (f"; misses: {', '.join(misses)}" if misses else "; all goals met"))


def _calibrated_bad(frame: pd.DataFrame) -> float:
    """The share of bad boosts the money rule could judge: a calibrated threshold at some look (the rest
    came before the warehouse held enough finished boosts: only "proven dearer" could pause them)."""
    bad = frame[frame["ratio"] > BAD_ABOVE]
    return float(bad["calibrated"].mean()) if "calibrated" in bad.columns and len(bad) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--sizes", nargs="+", default=["small", "default"])
    parser.add_argument("--worlds", nargs="+", default=["base", "close_losers"], choices=list(WORLDS))
    parser.add_argument("--out", type=Path, help="Also write every boost's row (truth and pauses) to this CSV.")
    parser.add_argument("--pool", type=Path, nargs="+",
                        help="Replay nothing: pool the CSVs of earlier runs (--out), e.g. one world per process.")
    args = parser.parse_args()
    frames, lines = [], []
    if args.pool:
        frames = [pd.read_csv(path, dtype={"post_id": str}) for path in args.pool]
        lines = [f for frame in frames for f in frame.groupby(["world", "size", "seed"]).groups]
        args.worlds, args.sizes, args.seeds = [], [], sorted({int(s) for f in frames for s in f["seed"].unique()})
        for frame in frames:
            for (world, size, seed), part in frame.groupby(["world", "size", "seed"], sort=False):
                s = {m: summary(part, m) for m in METHODS}
                misses = goals_met(s["monitor"], s["rule"])
                print(_world_line(world, size, seed, part, s, misses, None))
    for world in args.worlds:
        settings = load_settings(WORLDS[world])
        for size in args.sizes:
            for seed in args.seeds:
                start = time.perf_counter()
                frame = replay_world(settings, size, seed).assign(world=world)
                frames.append(frame)
                s = {m: summary(frame, m) for m in METHODS}
                misses = goals_met(s["monitor"], s["rule"])
                line = _world_line(world, size, seed, frame, s, misses, time.perf_counter() - start)
                lines.append(line)
                print(line, flush=True)
    pooled = pd.concat(frames, ignore_index=True)
    if args.out:
        pooled.to_csv(args.out, index=False)
    print(f"\nPer world: {' / '.join(METHODS.values())}")
    for world, size in pooled[["world", "size"]].drop_duplicates().itertuples(index=False):
        part = pooled[(pooled["world"] == world) & (pooled["size"] == size)]
        table = pd.DataFrame({label: summary(part, m) for m, label in METHODS.items()})
        print(f"\nPooled: {world} worlds, {size}, seeds {' '.join(map(str, args.seeds))}; monitor on "
              f"'{DEPLOYED_CRON}' over each boost's first {HORIZON_H} h:")
        print(_shown(table).to_string())
    table = pd.DataFrame({label: summary(pooled, m) for m, label in METHODS.items()})
    print(f"\nPooled over all {len(lines)} worlds:")
    print(_shown(table).to_string())
    print(f"bad boosts with a calibrated money rule at some look: {_calibrated_bad(pooled):.1%}")


if __name__ == "__main__":
    main()
