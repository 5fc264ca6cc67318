"""After a closed-loop run (benchmarks/closed_loop.py): the off-policy check again, read back from the run,
with each target policy's support.

For each Monday of a finished run it reads the run's `scores` table (every candidate the shortlist policy
saw that night, with its `boost_propensity`, `status` and rank) and rebuilds what the loop logged: per
advertiser, the eligible posts (status empty: can run, not boosted before) are the pool, the shortlist's
ranks 1..K among them are the boosts, each with the propensity it was scored with. Rewards are the realised
uplift labels the loop draws (`closed_loop.realised_rewards`: the same draw for a post whoever picks it).
The targets are those of the loop's check: the brief's heuristic (organic engagement rate, from the run's
last warehouse read as of that Monday) and the served model's own top K without test picks; the reward
model for DR is the served model's `predicted_uplift` (0 for the prior), as in the loop; a second DR row
(`dr_trained`) takes instead the `predicted_uplift` of the latest ranker trained by that Monday, champion
or not (trained on boosts that ended before it, so never on that decision's rewards), as `sparkpick
evaluate` takes the challenger's; in weeks before any ranker, the served model's.

Beside each estimate: the realised value, the error in captured units (error / (best K - random K) of the
realised rewards, averaged over decisions), and the support, the share of the target's picks that the
logging policy could have boosted (propensity > 0; see models/off_policy.py). A pick outside the support
never appears in the log, so IPS and SNIPS cannot see it and DR sees it only through its reward model.

    .venv/bin/python benchmarks/closed_loop_ope.py --size small --seeds 1 2 --workdir /tmp/cl/small
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from features.matrix import candidate_matrix
from features.video.cues.catalogue import video_feature_version
from features.video.table import video_of_posts
from models import mlflow_store, serving
from models.baselines import engagement_rate_scores
from models.off_policy import PolicyInputs, evaluate_policies
from models.ranker import ScoringModel
from sparkpick.config import Settings, load_settings
from sparkpick.home import Home
from sparkpick.sources.demo.fresh import fresh_world
from sparkpick.warehouse import SCORES, Warehouse, read_model_inputs

# The loop beside this script: its Mondays and its reward draws.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from closed_loop import add_run_arguments, mondays, realised_rewards, run_tag

PROPENSITY = "boost_propensity"


def rankers_by_monday(home: Home, settings: Settings) -> dict[pd.Timestamp, ScoringModel]:
    """Each trained ranker of the run (not the prior), by the Monday it was trained on (`data.until`)."""
    out: dict[pd.Timestamp, ScoringModel] = {}
    name = settings.mlflow.model_name
    with mlflow_store.tracking(home.tracking_uri(settings)) as client:
        for v in client.search_model_versions(f"name='{name}'"):
            until = client.get_run(str(v.run_id)).data.params.get("data.until")
            if v.tags.get("kind") != "prior" and until and until != "all":
                monday = pd.Timestamp(until)
                monday = monday.tz_convert(None) if monday.tzinfo else monday
                out[monday] = serving.load_model(client, f"models:/{name}/{v.version}").model
    return out


def decisions_of(run: Path, settings: Settings, size: str, seed: int, weeks: list[pd.Timestamp], k: int,
                 flight_days: int) -> pd.DataFrame:
    """One row per eligible post per advertiser-Monday: decision_id, post_id, reward, predicted_uplift
    (the served model's), trained_uplift (the latest trained ranker's), boost_propensity, logged
    (shortlisted, so boosted), heuristic and greedy (in that target's top K)."""
    home = Home.at(run / "home")
    world = fresh_world(settings.world, size, seed)
    inputs = read_model_inputs(home.warehouse)
    video = video_of_posts(inputs, video_feature_version(settings.video))
    rankers = rankers_by_monday(home, settings)
    with Warehouse(home.warehouse, read_only=True) as wh:
        scores = wh.read(SCORES)
    scores["post_id"] = scores["post_id"].astype(str)
    scores["as_of"] = pd.to_datetime(scores["as_of"]).dt.tz_localize(None).dt.normalize()
    frames = []
    for monday in weeks:
        night = scores[(scores["as_of"] == monday) & (scores["status"].fillna("").astype(str) == "")]
        if night.empty:
            continue
        cands = candidate_matrix(inputs.tables, monday, settings, video=video)
        cands = cands.assign(post_id=cands["post_id"].astype(str)).drop_duplicates("post_id").reset_index(drop=True)
        heuristic = pd.Series(engagement_rate_scores(cands), index=cands["post_id"].to_numpy())
        latest = [t for t in rankers if t <= monday]
        trained = None
        if latest:
            model = rankers[max(latest)]
            frame = cands.assign(**{f: np.nan for f in model.feature_names if f not in cands.columns})
            trained = pd.Series(model.predict(frame)["predicted_uplift"].to_numpy(float), index=cands["post_id"])
        for adv, pool in night.groupby("advertiser_id", sort=True):
            if len(pool) < 2:
                continue
            pool = pool.sort_values("rank", kind="stable")
            ids = pool["post_id"].tolist()
            h = heuristic.reindex(ids).fillna(-np.inf).to_numpy(float)
            greedy = pool.sort_values(["score", "post_id"], ascending=[False, True])["post_id"].head(k)
            frames.append(pd.DataFrame({
                "decision_id": f"{adv}@{monday:%Y-%m-%d}", "post_id": ids,
                "reward": realised_rewards(world, settings, ids, monday, flight_days).reindex(ids).to_numpy(float),
                "predicted_uplift": pool["predicted_uplift"].to_numpy(float),
                "trained_uplift": (trained.reindex(ids).to_numpy(float) if trained is not None
                                   else pool["predicted_uplift"].to_numpy(float)),
                PROPENSITY: pool[PROPENSITY].to_numpy(float),
                "logged": np.arange(len(ids)) < k,  # ranks 1..K among the eligible: the boosts
                "heuristic": np.isin(np.arange(len(ids)), np.argsort(-h, kind="stable")[:k]),
                "greedy": pool["post_id"].isin(set(greedy)).to_numpy(),
            }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def check(table: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """The loop's off-policy check on the rebuilt decisions, with each target's support."""
    table = table[table["reward"].notna()]
    logged = table[table["logged"] & table[PROPENSITY].gt(0)].reset_index(drop=True)
    used = table[table["decision_id"].isin(set(logged["decision_id"]))]
    by = used.groupby("decision_id", sort=False)
    spread = by["reward"].apply(lambda r: float(np.sort(r.to_numpy())[::-1][:k].sum() - min(k, len(r)) * r.mean()))
    frames, realised = [], {}
    for reward_model, suffix in (("predicted_uplift", ""), ("trained_uplift", "_trained")):
        policies = {}
        for name in ("heuristic", "greedy"):
            picked = used[used[name]]
            value_hat = picked.groupby("decision_id")[reward_model].sum().reindex(by.size().index).fillna(0.0)
            picks = by[name].sum().astype(float)
            unsupported = (used[name] & ~used[PROPENSITY].gt(0)).groupby(used["decision_id"]).sum().astype(float)
            policies[name] = PolicyInputs(logged[name].to_numpy(float), logged[reward_model].fillna(0.0)
                                          .to_numpy(float), value_hat, picks, unsupported)
            realised[name] = float(picked.groupby("decision_id")["reward"].sum().reindex(by.size().index)
                                   .fillna(0.0).mean())
        table = evaluate_policies(logged[["decision_id", "post_id", "reward", PROPENSITY]], policies, seed=0)
        if suffix:
            table = table[table["estimator"] == "dr"].assign(estimator="dr" + suffix)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True).sort_values(["policy", "estimator"], kind="stable")
    out["realised"] = out["policy"].map(realised)
    out["error"] = out["value"] - out["realised"]
    out["error_captured"] = out["error"] / float(spread.mean())
    return out.assign(seed=seed, decisions=by.ngroups,
                      with_tests=int(by[PROPENSITY].apply(lambda p: bool(((p > 0) & (p < 1)).any())).sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--workdir", type=Path, required=True, help="the closed loop's --workdir")
    args = parser.parse_args()
    settings = load_settings(None)
    weeks = mondays(settings, args.weeks)
    rows = []
    for seed in args.seeds:
        folder = args.workdir / f"run-{run_tag(args, seed, 'test picks on')}"
        table = decisions_of(folder, settings, args.size, seed, weeks, args.top, args.flight_days)
        rows.append(check(table, args.top, seed))
    out = pd.concat(rows, ignore_index=True)
    cols = ["seed", "policy", "estimator", "value", "low", "high", "realised", "error_captured", "n_logged",
            "effective_sample_size", "support", "decisions", "with_tests"]
    print(out[cols].round(2).to_string(index=False))


if __name__ == "__main__":
    main()
