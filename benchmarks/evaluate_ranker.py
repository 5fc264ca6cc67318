"""How well does the ranker pick posts? Backtest on demo worlds against their hidden truth.

For each seed: build a demo world (videos included unless --no-video), ingest it into a scratch home and
featurise its videos with the real pipeline, train on the boosts that ended before a cut date, then at
every weekly decision after the cut score all of each advertiser's candidates and compare the top 5
with the world's `truth.csv` (expected uplift of every post; read here only, never by the pipeline).

Metric: uplift captured@5 against the true expected uplift of all candidates of a decision, normalised
so that random picks score 0 and the best 5 score 1 (ratio of sums over decisions, see
models/evaluate.py). Orderings: the served ranker (the model `sparkpick score` would use), the brief's
organic-engagement heuristic, the same ranker without the video cues (ablation), and for context the
pointwise regressor (held out, single), views, random and the ranker's held-out members (before refit).

    .venv/bin/python benchmarks/evaluate_ranker.py --seeds 1 2 3 --size small
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pandas as pd

from features.matrix import candidate_matrix, feature_columns, feature_version, training_matrix
from features.video.cues.catalogue import video_feature_version
from features.video.table import video_of_posts
from models.baselines import engagement_rate_scores, random_scores, views_scores
from models.evaluate import captured_sums
from models.prior import starting_terms
from models.training import ABLATION, ENGAGEMENT, MODEL, POINTWISE, RANDOM, VIEWS_BASELINE, fit_models
from sparkpick.config import Settings, load_settings
from sparkpick.home import Home
from sparkpick.warehouse import read_model_inputs

K = 5
# The ranker's members before they were refit on the validation rows too (what refitting adds).
HELD_OUT = "ranker_held_out"
ORDER = (MODEL, ENGAGEMENT, ABLATION, POINTWISE, VIEWS_BASELINE, RANDOM, HELD_OUT)


def prepare_home(root: Path, settings: Settings, size: str, seed: int, video: bool) -> tuple[Home, pd.DataFrame]:
    """A home with the world ingested (and its videos featurised), and the world's truth table."""
    from flows.ingest import ingest_folder, ingest_tables
    from sparkpick.sources.demo.tables import generate_tables

    home = Home.at(root / f"home-{size}-{seed}").ensure()
    if video:
        from sparkpick.sources.demo import build_world

        folder = root / f"world-{size}-{seed}"
        if not (folder / "truth.csv").exists():
            build_world(folder, settings, size=size, seed=seed)
        ingest_folder(home, settings, folder)
        try:
            from flows.featurize import featurize_videos
        except ImportError:
            print("  (flows.featurize not available: scoring without video cues)", file=sys.stderr)
        else:
            featurize_videos(home, settings)
        truth = pd.read_csv(folder / "truth.csv", dtype={"post_id": str})
    else:
        tables = generate_tables(settings.world, size, seed)
        contract = tables.contract()
        contract["posts"] = contract["posts"].assign(video_path=None)  # no rendered files in this mode
        ingest_tables(home, settings, contract, source=f"demo-{size}-{seed}")
        truth = tables.truth
    return home, truth


def backtest(home: Home, truth: pd.DataFrame, settings: Settings, cut_weeks: int) -> dict[str, tuple[float, float]]:
    """(gain, possible) sums of captured@K per ordering over all weekly decisions after the cut."""
    inputs = read_model_inputs(home.warehouse)
    tables, video = inputs.tables, video_of_posts(inputs, video_feature_version(settings.video))
    posts = tables["posts"]
    end = pd.Timestamp(settings.world.end)
    cut = (end - pd.Timedelta(weeks=cut_weeks)).normalize()
    rows = training_matrix(tables, settings, video=video, until=cut)
    features = feature_columns(rows)
    fitted = fit_models(rows, features, settings.ranker, feature_version(settings), label=settings.label,
                        base_terms=starting_terms(settings.ranker, settings.prior))
    expected = truth.set_index(truth["post_id"].astype(str))["expected_uplift"]
    sums = {name: [0.0, 0.0] for name in ORDER}
    decisions = 0
    for T in pd.date_range(cut + pd.Timedelta(weeks=1), end, freq="7D"):
        cands = candidate_matrix(tables, T, settings, video=video)
        cands = cands[cands["post_id"].isin(expected.index)]
        if cands.empty:
            continue
        truth_u = expected.loc[cands["post_id"]].to_numpy(dtype=float)
        group = cands["advertiser_id"].to_numpy()
        scores = {
            MODEL: fitted.scoring_model.scores(cands),
            ENGAGEMENT: engagement_rate_scores(cands),
            ABLATION: (fitted.ablation or fitted.ranker).predict(cands),
            POINTWISE: fitted.pointwise.predict(cands),
            VIEWS_BASELINE: views_scores(cands),
            RANDOM: random_scores(cands, settings.ranker.seed + decisions),
            HELD_OUT: fitted.ranker.predict_held_out(cands),
        }
        for name, s in scores.items():
            gain, possible = captured_sums(truth_u, s, group, K)
            sums[name][0] += gain
            sums[name][1] += possible
        decisions += cands["advertiser_id"].nunique()
    print(f"  trained on {len(fitted.train)} boosts (+{len(fitted.valid)} validation) before {cut:%Y-%m-%d}, "
          f"{len(features)} features ({sum(f.startswith('video_') for f in features)} video); "
          f"{decisions} later decisions over {len(posts)} posts", file=sys.stderr)
    return {name: (g, p) for name, (g, p) in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--size", default="small")
    parser.add_argument("--cut-weeks", type=int, default=6, help="decisions after end - N weeks are scored")
    parser.add_argument("--no-video", action="store_true", help="skip rendering and featurising videos")
    parser.add_argument("--workdir", type=Path, default=None, help="keep worlds and homes here (default: temp)")
    parser.add_argument("--config", type=Path, default=None, help="YAML overlaid on configs/default.yaml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="sparkpick-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    per_seed: dict[int, dict[str, float]] = {}
    pooled = {name: [0.0, 0.0] for name in ORDER}
    for seed in args.seeds:
        start = time.perf_counter()
        print(f"seed {seed}: building and featurising a {args.size} world in {root}", file=sys.stderr)
        home, truth = prepare_home(root, settings, args.size, seed, video=not args.no_video)
        sums = backtest(home, truth, settings, args.cut_weeks)
        per_seed[seed] = {n: (g / p if p > 0 else float("nan")) for n, (g, p) in sums.items()}
        for name, (g, p) in sums.items():
            pooled[name][0] += g
            pooled[name][1] += p
        shown = ", ".join(f"{n} {v:.3f}" for n, v in per_seed[seed].items())
        print(f"  {time.perf_counter() - start:.0f} s; captured@{K}: {shown}", file=sys.stderr)

    header = f"{'ordering':<22}" + "".join(f"{'seed ' + str(s):>10}" for s in args.seeds) + f"{'pooled':>10}"
    print(f"\nuplift captured@{K} against true expected uplift of all candidates "
          f"({args.size} worlds, decisions in the last {args.cut_weeks} weeks; random 0, best 1)")
    print(header)
    result = {}
    for name in ORDER:
        value = pooled[name][0] / pooled[name][1] if pooled[name][1] > 0 else float("nan")
        result[name] = value
        print(f"{name:<22}" + "".join(f"{per_seed[s][name]:>10.3f}" for s in args.seeds) + f"{value:>10.3f}")
    print(
        f"\ngoals: ranker >= 0.60: {result[MODEL]:.3f} {'met' if result[MODEL] >= 0.6 else 'MISSED'}; "
        f"ranker - heuristic >= 0.15: {result[MODEL] - result[ENGAGEMENT]:+.3f} "
        f"{'met' if result[MODEL] - result[ENGAGEMENT] >= 0.15 else 'MISSED'}; "
        f"video adds >= 0.05: {result[MODEL] - result[ABLATION]:+.3f} "
        f"{'met' if result[MODEL] - result[ABLATION] >= 0.05 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
