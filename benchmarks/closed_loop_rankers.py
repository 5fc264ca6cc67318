"""After a closed-loop run (benchmarks/closed_loop.py): which ranking would have done best, week by week?

For each Monday of a finished run it reads the run's own warehouse and MLflow store and scores the pool the
loop measured (candidates that can run and were not boosted before that Monday) with the prior, with the
ranker trained that Monday (the version whose `data.until` is that Monday, champion or not), and with the
brief's heuristic; captured@K of each against the world's hidden truth (random 0, best 1), pooled over the
world's advertisers. It answers "is the prior better than the trained ranker on these worlds?" apart from
what the hand-over gate chose and from test picks. The warehouse read is the run's last one, where a post's
authorisation status is its latest, so a week's pool can differ a little from the one the loop measured.

With `--refit`, it also trains a ranker each Monday with this checkout's training (`models/training.py`,
on the run's boosts whose results ended before that Monday, settings as `--set` overrides them) and
scores the pool with it ("refit"): a way to compare training variants on the same logged boosts without
running the loop again (the boosts stay those the run's own policy chose).

    .venv/bin/python benchmarks/closed_loop_rankers.py --size small --seeds 1 2 --workdir /tmp/cl/small \
        [--refit] [--set ranker.start_from_prior=false]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from features.matrix import candidate_matrix, feature_columns, feature_version, training_matrix
from features.readiness import BLOCKING_FLAGS
from features.video.table import video_of_posts
from models import mlflow_store, serving
from models.baselines import engagement_rate_scores
from models.policy_evidence import with_propensity_nights
from models.prior import prior_model, starting_terms
from models.ranker import ScoringModel
from models.training import fit_models
from sparkpick.config import Settings, load_settings, with_overrides
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.demo.fresh import fresh_world
from sparkpick.warehouse import SCORES, Warehouse, read_model_inputs

# The loop beside this script: its Mondays and its captured@K.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from closed_loop import add_run_arguments, captured, mondays, run_tag


def trained_on(home: Home, settings: Settings, weeks: list[pd.Timestamp]) -> dict[pd.Timestamp, ScoringModel]:
    """The ranker trained on each Monday (by its run's `data.until`), loaded from the run's MLflow store."""
    out: dict[pd.Timestamp, ScoringModel] = {}
    name = settings.mlflow.model_name
    with mlflow_store.tracking(home.tracking_uri(settings)) as client:
        for v in client.search_model_versions(f"name='{name}'"):
            until = client.get_run(str(v.run_id)).data.params.get("data.until")
            if v.tags.get("kind") == "prior" or not until or until == "all":
                continue
            monday = pd.Timestamp(until).tz_localize(None) if pd.Timestamp(until).tzinfo else pd.Timestamp(until)
            if monday in weeks:
                out[monday] = serving.load_model(client, f"models:/{name}/{v.version}").model
    return out


def refit_on(home: Home, tables: dict[str, pd.DataFrame], video: pd.DataFrame | None, settings: Settings,
             weeks: list[pd.Timestamp]) -> dict[pd.Timestamp, ScoringModel]:
    """A ranker trained each Monday by this checkout on the run's boosts that ended before it."""
    from models.policy import join_propensities

    with Warehouse(home.warehouse, read_only=True) as wh:
        scores = wh.read(SCORES) if wh.has_table(SCORES) else None
    tables = {**tables, "spark_results": join_propensities(tables["spark_results"], scores)}
    out: dict[pd.Timestamp, ScoringModel] = {}
    for monday in weeks:
        rows = training_matrix(tables, settings, video=video, until=monday)
        rows = rows[pd.to_datetime(rows["ended_at"]) < monday].reset_index(drop=True)
        if rows.empty:
            continue
        rows = with_propensity_nights(rows, tables["spark_results"])
        try:
            fitted = fit_models(rows, feature_columns(rows), settings.ranker, feature_version(settings),
                                label=settings.label, base_terms=starting_terms(settings.ranker, settings.prior))
        except InputError:
            continue
        out[monday] = fitted.scoring_model
    return out


SCORERS = ("prior", "trained that Monday", "refit", "heuristic")


def one_run(run: Path, settings: Settings, size: str, seed: int, weeks: list[pd.Timestamp], k: int,
            refit: Settings | None = None) -> pd.DataFrame:
    home = Home.at(run / "home")
    truth = fresh_world(settings.world, size, seed).expected_uplift
    inputs = read_model_inputs(home.warehouse)
    video = video_of_posts(inputs, settings.video.feature_version)
    results = inputs.tables["spark_results"]
    prior = prior_model(settings.prior, feature_version(settings))
    rankers = trained_on(home, settings, weeks)
    refits = refit_on(home, inputs.tables, video, refit, weeks) if refit is not None else {}
    rows = []
    for number, monday in enumerate(weeks, start=1):
        cands = candidate_matrix(inputs.tables, monday, settings, video=video)
        before = set(results.loc[pd.to_datetime(results["boosted_at"]) < monday, "post_id"].astype(str))
        can_run = ~cands[[f for f in BLOCKING_FLAGS if f in cands]].any(axis=1)
        pool = cands[can_run & ~cands["post_id"].astype(str).isin(before)].reset_index(drop=True)
        scorers = {"prior": prior.scores, "heuristic": engagement_rate_scores}
        for name, models in (("trained that Monday", rankers), ("refit", refits)):
            if monday in models:
                model = models[monday]
                pool = pool.assign(**{f: np.nan for f in model.feature_names if f not in pool.columns})
                scorers[name] = model.scores
        sums = {name: [0.0, 0.0] for name in SCORERS}
        for _, mine in pool.groupby("advertiser_id"):
            if len(mine) <= k:  # no choice to measure, as in the loop
                continue
            t = truth.loc[mine["post_id"].astype(str)].to_numpy(float)
            for name, scorer in scorers.items():
                s = np.nan_to_num(np.asarray(scorer(mine), dtype=float), nan=-np.inf)
                gained, possible = captured(t, np.argsort(-s, kind="stable")[:k], k)
                sums[name][0] += gained
                sums[name][1] += possible
        rows.append({"seed": seed, "week": number, "pool": len(pool),
                     **{name: (g / p if p > 0 and name in scorers else np.nan) for name, (g, p) in sums.items()}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--arm", choices=["on", "off"], default="on")
    parser.add_argument("--workdir", type=Path, required=True, help="the closed loop's --workdir")
    parser.add_argument("--refit", action="store_true", help="also train each Monday with this checkout")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=JSON",
                        help="a setting for the refit, e.g. ranker.start_from_prior=false")
    args = parser.parse_args()
    settings = load_settings(None)
    overrides: dict[str, dict[str, object]] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        overrides.setdefault(section, {})[name] = json.loads(value)
    refit = with_overrides(settings, overrides) if args.refit else None
    weeks = mondays(settings, args.weeks)
    frames = []
    for seed in args.seeds:
        folder = args.workdir / f"run-{run_tag(args, seed, f'test picks {args.arm}')}"
        frames.append(one_run(folder, settings, args.size, seed, weeks, args.top, refit))
    table = pd.concat(frames, ignore_index=True)
    print(table.round(2).to_string(index=False))
    late = table[table["week"] > 4].groupby("seed")[list(SCORERS)].mean()
    print("\nweeks 5-12, mean captured@K per seed:\n" + late.round(2).to_string())


if __name__ == "__main__":
    main()
