"""The closed loop's weekly figures (benchmarks/closed_loop.py): per-week sums saved and read back, pooled
over seeds, the goals' verdicts as a Markdown table, and the learning curve as a plot."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ON, OFF = "test picks on", "test picks off"


@dataclass
class Week:
    """One arm's Monday: captured sums (gained, possible) and the counts behind them."""

    week: int
    monday: pd.Timestamp
    boosted: list[float] = field(default_factory=lambda: [0.0, 0.0])
    heuristic: list[float] = field(default_factory=lambda: [0.0, 0.0])
    # The model's own ranking, without test picks, cut at K among the posts that can run (the heuristic
    # where there was no shortlist): what skipping the shortlist's unrunnable slots would have given.
    ranking: list[float] = field(default_factory=lambda: [0.0, 0.0])
    decisions: int = 0
    measured: int = 0
    without_shortlist: int = 0
    lost_slots: int = 0
    slots: int = 0
    trained: str = ""



def load_weeks(path: Path) -> list[Week]:
    frame = pd.read_csv(path, keep_default_na=False)
    out = []
    for row in frame.to_dict("records"):
        row["monday"] = pd.Timestamp(row["monday"])
        for pair in ("boosted", "heuristic", "ranking"):
            row[pair] = [float(v) for v in str(row.get(pair, "nan, nan")).strip("[]").split(",")]
        out.append(Week(**row))
    return out


def weekly(runs: list[list[Week]]) -> pd.DataFrame:
    """Per week, pooled over seeds: captured (boosted, heuristic), advertiser-weeks without a shortlist."""
    rows = []
    for i in range(len(runs[0])):
        ws = [run[i] for run in runs]
        possible = sum(w.boosted[1] for w in ws)
        rows.append({
            "week": i + 1, "monday": ws[0].monday,
            "captured": sum(w.boosted[0] for w in ws) / possible if possible > 0 else np.nan,
            "heuristic": sum(w.heuristic[0] for w in ws) / possible if possible > 0 else np.nan,
            "ranking": sum(w.ranking[0] for w in ws) / possible if possible > 0 else np.nan,
            "without_shortlist": sum(w.without_shortlist for w in ws), "decisions": sum(w.decisions for w in ws),
            "lost_slots": sum(w.lost_slots for w in ws), "slots": sum(w.slots for w in ws),
        })
    return pd.DataFrame(rows)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(results: dict[str, list[list[Week]]], ope: list[pd.DataFrame], args: argparse.Namespace) -> str:
    first = ON if results.get(ON) else OFF
    on = weekly(results[first])
    off = weekly(results[OFF]) if first == ON and results.get(OFF) else None
    seeds = " ".join(map(str, args.seeds))
    lines = [f"### Closed loop ({first}): {args.size} worlds, seeds {seeds}, K = {args.top}", "",
             "| week | Monday | captured@K | test picks off | heuristic | best | ranking among runnable posts "
             "| no shortlist | slots lost |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in on.itertuples():
        off_value = f"{off.loc[r.Index, 'captured']:.2f}" if off is not None else "n/a"
        lines.append(f"| {r.week} | {r.monday:%Y-%m-%d} | {r.captured:.2f} | {off_value} | {r.heuristic:.2f} | 1.00 "
                     f"| {r.ranking:.2f} | {r.without_shortlist}/{r.decisions} | {r.lost_slots}/{r.slots} |")
    early, late = on[on["week"] <= 4], on[on["week"] > 4]
    gap = float(early["captured"].mean() - early["heuristic"].mean())
    no_list = int(on["without_shortlist"].sum())
    lines += ["", "Goals (captured@K pooled over seeds per week, then averaged over weeks):",
              f"- a shortlist every week from the first: {no_list} advertiser-weeks without one "
              f"({_verdict(no_list == 0)})",
              f"- weeks 1-4 at least 0.15 above the heuristic: {early['captured'].mean():.2f} vs "
              f"{early['heuristic'].mean():.2f} ({gap:+.2f}, {_verdict(gap >= 0.15)})",
              f"- weeks 5-12 at least 0.70: {late['captured'].mean():.2f} "
              f"({_verdict(late['captured'].mean() >= 0.70)})"]
    if off is not None:
        cost = float(off["captured"].mean() - on["captured"].mean())
        lines.append(f"- test picks cost at most 0.05 over the weeks: off {off['captured'].mean():.2f}, on "
                     f"{on['captured'].mean():.2f} (cost {cost:+.2f}, {_verdict(cost <= 0.05)}); last four weeks "
                     f"off {off['captured'].tail(4).mean():.2f}, on {on['captured'].tail(4).mean():.2f}")
    else:
        lines.append("- test picks: no test-picks-off arm was run (or this checkout has no policy.test_share)")
    if ope:
        table = pd.concat(ope, ignore_index=True)
        lines += ["", "Off-policy estimates on the boosts logged with a propensity, per seed (uplift per "
                  "advertiser-week; error in captured units = error / (best K - random K) of the realised rewards; "
                  "support: the share of the policy's picks the shortlist could have boosted):",
                  "", "| seed | policy | estimator | estimate (95% interval) | realised | error | error, captured "
                  "units | logged | ESS | support |", "|---:|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in table.itertuples():
            lines.append(f"| {r.seed} | {r.policy} | {r.estimator} | {r.value:.2f} ({r.low:.2f} to {r.high:.2f}) "
                         f"| {r.realised:.2f} | {r.error:+.2f} | {r.error_captured:+.2f} | {r.n_logged} "
                         f"| {r.effective_sample_size:.1f} | {getattr(r, 'support', float('nan')):.2f} |")
        dr = table[table["estimator"] == "dr"]
        worst = float(dr["error_captured"].abs().max()) if len(dr) else float("nan")
        lines.append(f"\n- off-policy within 0.1 (captured units) of realised for a non-logging policy: worst DR "
                     f"error {worst:.2f} ({_verdict(worst <= 0.1)})")
    else:
        lines += ["", "- off-policy: no boost was logged with a propensity (the shortlist carries none), so "
                  "nothing to estimate (NOT met)"]
    return "\n".join(lines)


def plot(results: dict[str, list[list[Week]]], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    on = weekly(results[ON] if results.get(ON) else results[OFF])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(1.0, color="0.6", lw=1, ls=":", label="best possible")
    ax.axhline(0.0, color="0.8", lw=1)
    ax.plot(on["week"], on["heuristic"], "s--", color="tab:gray", label="brief's heuristic (organic engagement)")
    if results.get(ON) and results.get(OFF):
        off = weekly(results[OFF])
        ax.plot(off["week"], off["captured"], "o-", color="tab:orange", alpha=0.7, label="sparkpick, test picks off")
    ax.plot(on["week"], on["ranking"], ".:", color="tab:blue", alpha=0.6,
            label="its model's own top K among runnable posts (no test pick)")
    ax.plot(on["week"], on["captured"], "o-", color="tab:blue", label="sparkpick")
    none = on[on["without_shortlist"] > 0]
    if len(none):
        ax.scatter(none["week"], none["captured"], s=120, facecolors="none", edgecolors="red",
                   label="some brands without a shortlist (heuristic used)", zorder=3)
    ax.set_xlabel("week (Mondays since the brands started)")
    ax.set_ylabel(f"uplift captured@{args.top} (random 0, best 1)")
    ax.set_title(f"Start from zero: {args.size} demo worlds, seeds {' '.join(map(str, args.seeds))}")
    ax.set_xticks(on["week"])
    ax.set_ylim(min(-0.2, float(on[["captured", "heuristic"]].min().min()) - 0.05), 1.25)
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)
