"""Start from zero: brands that never boosted, run week after week as a team would, against hidden truth.

For each seed, a demo world whose brands have no past Spark Ads (`sparkpick/sources/demo/fresh.py`) is
seen for `--weeks` Mondays ending at the world's end. Every Monday T the loop
  1. writes what is known at T into one contract folder (posts, snapshots, partnerships, baselines that
     ended by T, and the Spark Ads this loop ran that ended by T, each with its `boost_propensity` when
     the shortlist carried one), as a team's export would be refreshed;
  2. runs ingest (`local:` that folder), featurize, train (`--promote auto`) and score (`--top K`) in
     this process, calling the functions the `sparkpick` commands call;
  3. boosts, per advertiser, the shortlist's posts that can run (no flag of `features.readiness.
     BLOCKING_FLAGS`: a code that lasts the week, usage rights, a native look, settled numbers; the
     shortlist itself gives them no slot) and were not boosted before; an advertiser without a shortlist
     gets the brief's rule instead (its K most engaging such posts), logged without propensity;
  4. draws each boost's results from the world's hidden truth (the same draw for a post whoever picks it)
     for a flight of `--flight-days` days, to be appended to the folder when they have ended.

Measured per week against the posts that could be boosted that Monday (pool: candidates that can run and
were not boosted before; the heuristic and the best K come from the same pool): uplift captured@K of the
posts actually boosted, of the brief's heuristic (organic engagement rate) and 1 for the best K, all
against the true expected uplift (random = 0; a slot that nothing filled counts as random; a pool of K
posts or fewer leaves no choice and is not measured);
advertiser-weeks without a shortlist; shortlist slots lost (a post that cannot run or was boosted before);
and, apart from what was boosted, the model's own ranking cut at K among the pool (what skipping the
shortlist's unrunnable slots would give, without test picks). The same loop runs again with test picks
off (`policy.test_share: 0`; skipped when this checkout has no such setting). Finally, off-policy
estimates (models/off_policy.py) on the boosts logged with propensities, of the value of policies that
did not log them (the heuristic; the model's own top K without test picks), against their realised
value: the realised uplift labels of the posts each would have boosted, drawn the same way.
Runs are split by seed and arm (`--arms`, `--reuse`) to keep each under about 15 minutes. The first arm
run for a seed leaves its computed video features beside the rendered world; a later arm (or run) of the
same seed starts from them instead of decoding the same videos again (the same rows: what it measures
does not change).

    nice -n 10 .venv/bin/python benchmarks/closed_loop.py --size small --seeds 1 2 --weeks 12 \
        --plot /tmp/closed_loop.png [--workdir DIR] [--no-video] [--top 4]
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import numpy as np
import pandas as pd

from features.labels import uplift_labels
from features.matrix import candidate_matrix
from features.readiness import BLOCKING_FLAGS
from features.video.cues.catalogue import video_feature_version
from features.video.table import video_of_posts
from models.baselines import engagement_rate_scores
from models.off_policy import PolicyInputs, evaluate_policies
from sparkpick.config import Settings, load_settings, with_overrides
from sparkpick.contract import SPARK_RESULTS
from sparkpick.errors import InputError
from sparkpick.files import atomic_path, write_atomic
from sparkpick.home import Home
from sparkpick.shortlist import top_per_advertiser
from sparkpick.sources.demo.build import to_csv_text
from sparkpick.sources.demo.fresh import FreshWorld, fresh_world
from sparkpick.warehouse import VIDEO_FEATURES, VIDEO_FEATURES_KEY, Warehouse, read_model_inputs

# The figures module beside this script, found also by the video workers' fresh interpreters.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from closed_loop_figures import OFF, ON, Week, load_weeks, plot, report

PROPENSITY = "boost_propensity"
# The setting that turns test picks off (`policy.test_share: 0`); a checkout without it runs one arm.
TEST_SHARE_SETTINGS = (("policy", "test_share"),)


@dataclass
class Decision:
    """What the off-policy check needs of one advertiser-Monday that had a shortlist."""

    decision_id: str
    pool: pd.DataFrame  # post_id, reward (realised label), predicted_uplift, boost_propensity (NaN: unscored)
    heuristic: set[str]
    greedy: set[str]  # the model's own top K among the pool (no test picks)


def test_share_override(settings: Settings) -> dict[str, dict[str, object]] | None:
    """The overlay that turns test picks off, or None when this checkout has no test picks."""
    data = settings.model_dump()
    for section, key in TEST_SHARE_SETTINGS:
        if key in data.get(section, {}):
            value: object = False if isinstance(data[section][key], bool) else 0
            return {section: {key: value}}
    return None


def mondays(settings: Settings, weeks: int) -> list[pd.Timestamp]:
    """The last `weeks` Mondays before the world's end, oldest first."""
    end = pd.Timestamp(settings.world.end)
    last = (end - pd.Timedelta(days=1)).normalize()
    last -= pd.Timedelta(days=last.day_of_week)
    return [last - pd.Timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def write_folder(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        write_atomic(path, to_csv_text(frame))


def link_videos(world_folder: Path, folder: Path) -> None:
    """The rendered videos, hard-linked (copied across file systems) into the contract folder."""
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for video in (world_folder / "videos").glob("*.mp4"):
        target = folder / "videos" / video.name
        if not target.exists():
            try:
                os.link(video, target)
            except OSError:
                shutil.copy2(video, target)


def captured(truth: np.ndarray, picked: np.ndarray, k: int) -> tuple[float, float]:
    """(gained over chance, best possible gain) per slot, K slots; unfilled slots gain nothing."""
    n = min(k, len(truth))
    chance = float(truth.mean())
    gained = float((truth[picked] - chance).sum()) / n
    possible = float(np.sort(truth)[::-1][:n].mean()) - chance
    return gained, possible


def realised_rewards(world: FreshWorld, settings: Settings, post_ids: list[str], monday: pd.Timestamp,
                     flight_days: int) -> pd.Series:
    """The uplift label each post would realise if boosted that Monday (the world's full baselines)."""
    drawn = world.draw_boosts(post_ids, monday + pd.Timedelta(hours=1), flight_days)
    labels = uplift_labels(drawn, world.tables.baselines, world.tables.posts, settings.label)
    return pd.Series(labels.to_numpy(float), index=drawn["post_id"].to_numpy())


def score_all(home: Home, settings: Settings, monday: pd.Timestamp, k: int) -> pd.DataFrame:
    """Every candidate scored as `sparkpick score --top K` scores them (its shortlist policy applied for K
    slots where this checkout has one), ranked so that ranks 1..K are the shortlist; empty without a model."""
    from flows.train import score_candidates

    try:
        if "cut" in inspect.signature(score_candidates).parameters:
            return score_candidates(home, settings, as_of=monday, top_k=k, cut=False)
        return score_candidates(home, settings, as_of=monday, top_k=None)
    except InputError:
        return pd.DataFrame(columns=["advertiser_id", "post_id", "rank", "score", "predicted_uplift"])


def shared_video_features(world_folder: Path | None, settings: Settings) -> Path | None:
    """Where the first arm of a seed leaves its computed video features for the next (same videos, same
    feature version: the same rows), so that only the first arm decodes the world's videos."""
    if world_folder is None:
        return None
    return world_folder / f"video-features-{video_feature_version(settings.video)}.parquet"


def run_arm(world: FreshWorld, settings: Settings, root: Path, world_folder: Path | None, weeks: list[pd.Timestamp],
            k: int, flight_days: int, workers: int, label: str) -> tuple[list[Week], list[Decision], pd.DataFrame]:
    from flows.featurize import featurize_videos
    from flows.ingest import ingest_source
    from flows.train import train_model

    home = Home.at(root / "home")
    shutil.rmtree(root, ignore_errors=True)
    home.ensure()
    folder = root / "contract"
    folder.mkdir(parents=True)
    if world_folder is not None:
        link_videos(world_folder, folder)
    shared = shared_video_features(world_folder, settings)
    if shared is not None and shared.exists():  # featurize then finds every video computed already
        with Warehouse(home.warehouse) as wh:
            wh.upsert_frame(VIDEO_FEATURES, pd.read_parquet(shared), VIDEO_FEATURES_KEY)
    expected = world.expected_uplift
    log = pd.DataFrame(columns=[c.name for c in SPARK_RESULTS.columns] + ["decision_id"])
    out: list[Week] = []
    decisions: list[Decision] = []
    for number, monday in enumerate(weeks, start=1):
        started = time.perf_counter()
        week = Week(number, monday)
        tables = world.known_at(monday)
        if world_folder is None:
            tables["posts"] = tables["posts"].assign(video_path=None)
        ended = log[pd.to_datetime(log["ended_at"]) <= monday]
        tables["spark_results"] = ended[[c.name for c in SPARK_RESULTS.columns]].reset_index(drop=True)
        write_folder(folder, tables)
        ingest_source(home, settings, f"local:{folder}")
        if world_folder is not None:
            featurize_videos(home, settings, workers=workers, as_of=monday)
        try:
            result = train_model(home, settings, until=monday, promote="auto")
            week.trained = f"v{result.model_version} ({result.promoted_to or 'no alias'})"
        except InputError as exc:
            week.trained = f"not trained: {str(exc).splitlines()[0][:60]}"
        scored = score_all(home, settings, monday, k)
        shortlist = top_per_advertiser(scored, k)
        scores = scored.set_index("post_id") if len(scored) else None
        inputs = read_model_inputs(home.warehouse)
        video = video_of_posts(inputs, video_feature_version(settings.video))
        cands = candidate_matrix(inputs.tables, monday, settings, video=video)
        can_run = ~cands[[f for f in BLOCKING_FLAGS if f in cands]].any(axis=1)
        boosted_before = cands["post_id"].isin(set(log["post_id"]))
        pool_all = cands[can_run & ~boosted_before].reset_index(drop=True)
        pool_all = pool_all.assign(heuristic=engagement_rate_scores(pool_all))
        new_rows = []
        for adv, pool in pool_all.groupby("advertiser_id", sort=True):
            if len(pool) < 2:
                continue
            ids = pool["post_id"].astype(str).tolist()
            truth = expected.loc[ids].to_numpy(float)
            heur = set(pool.sort_values(["heuristic", "post_id"], ascending=[False, True])["post_id"][:k])
            mine = shortlist[shortlist["advertiser_id"] == adv]
            week.decisions += 1
            if mine.empty:
                week.without_shortlist += 1
                picks, propensity = [p for p in ids if p in heur], None
            else:
                week.slots += len(mine)
                picks = [p for p in mine["post_id"].astype(str) if p in ids]
                week.lost_slots += len(mine) - len(picks)
                propensity = mine.set_index("post_id")[PROPENSITY] if PROPENSITY in mine else None
            greedy: set[str] = set()
            if scores is not None and not mine.empty:
                greedy = set(pool.assign(s=scores["score"].reindex(ids).to_numpy(float))
                             .sort_values(["s", "post_id"], ascending=[False, True])["post_id"][:k])
            idx = np.array([ids.index(p) for p in picks], dtype=int)
            gained, possible = captured(truth, idx, k)
            if len(ids) > k and possible > 1e-9:  # a pool of K or fewer posts leaves no choice to measure
                h_idx = np.array([ids.index(p) for p in ids if p in heur], dtype=int)
                g_idx = np.array([ids.index(p) for p in ids if p in greedy], dtype=int)
                week.boosted[0] += gained
                week.heuristic[0] += captured(truth, h_idx, k)[0]
                week.ranking[0] += captured(truth, g_idx if greedy else h_idx, k)[0]
                week.boosted[1] += possible
                week.heuristic[1] += possible
                week.ranking[1] += possible
                week.measured += 1
            decision_id = f"{adv}@{monday:%Y-%m-%d}"
            drawn = world.draw_boosts(picks, monday + pd.Timedelta(hours=1), flight_days) if picks else None
            if drawn is not None:
                if propensity is not None:
                    drawn[PROPENSITY] = propensity.reindex(drawn["post_id"]).to_numpy(float)
                new_rows.append(drawn.assign(decision_id=decision_id))
            if not mine.empty and scores is not None:
                rewards = realised_rewards(world, settings, ids, monday, flight_days)
                predicted = scores["predicted_uplift"].reindex(ids).to_numpy(float)
                logging = (scores[PROPENSITY].reindex(ids).to_numpy(float) if PROPENSITY in scores
                           else np.full(len(ids), np.nan))
                decisions.append(Decision(decision_id, pd.DataFrame(
                    {"post_id": ids, "reward": rewards.loc[ids].to_numpy(float), "predicted_uplift": predicted,
                     PROPENSITY: logging}), heur, greedy))
        if new_rows:
            log = pd.concat([log, *new_rows], ignore_index=True)
        out.append(week)
        rate = week.boosted[0] / week.boosted[1] if week.boosted[1] > 0 else float("nan")
        print(f"    {label}, week {number} ({monday:%Y-%m-%d}): captured {rate:+.2f}, "
              f"{week.without_shortlist}/{week.decisions} without shortlist, {week.lost_slots}/{week.slots} "
              f"slots lost; {week.trained}; {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if shared is not None and not shared.exists():
        with Warehouse(home.warehouse, read_only=True) as wh:
            computed = wh.read(VIDEO_FEATURES) if wh.has_table(VIDEO_FEATURES) else None
        if computed is not None:
            with atomic_path(shared) as tmp:
                computed.to_parquet(tmp, index=False)
    return out, decisions, log


def off_policy_check(log: pd.DataFrame, decisions: list[Decision], settings: Settings, k: int) -> pd.DataFrame:
    """Estimates of the heuristic's and the model's greedy top-K value on the boosts logged with a
    propensity, against the value each realised (rows: policy, estimator, estimate, realised, error), with
    each policy's support: the share of its picks the shortlist could have boosted (propensity > 0)."""
    by_id = {d.decision_id: d for d in decisions}
    logged = log[log[PROPENSITY].notna() & log["decision_id"].isin(by_id)].reset_index(drop=True)
    if logged.empty:
        return pd.DataFrame()
    reward = pd.Series(index=logged.index, dtype=float)
    reward_hat = pd.Series(index=logged.index, dtype=float)
    for i, row in logged.iterrows():
        pool = by_id[row["decision_id"]].pool.set_index("post_id")
        reward[i] = pool.loc[row["post_id"], "reward"]
        reward_hat[i] = pool.loc[row["post_id"], "predicted_uplift"]
    frame = logged.assign(reward=reward.to_numpy(), boost_propensity=logged[PROPENSITY].astype(float))
    frame = frame[frame["reward"].notna()].reset_index(drop=True)
    reward_hat = reward_hat[reward.notna()].reset_index(drop=True).fillna(0.0)
    used = [by_id[d] for d in frame["decision_id"].unique()]
    policies, realised, spread = {}, {}, []
    for name in ("heuristic", "greedy"):
        chosen = {d.decision_id: getattr(d, name) for d in used}
        inclusion = np.array([p in chosen[d] for d, p in zip(frame["decision_id"], frame["post_id"], strict=True)],
                             dtype=float)
        value_hat = pd.Series({d.decision_id: float(d.pool.loc[d.pool["post_id"].isin(chosen[d.decision_id]),
                                                                "predicted_uplift"].fillna(0).sum()) for d in used})
        picks = pd.Series({d.decision_id: float(d.pool["post_id"].isin(chosen[d.decision_id]).sum()) for d in used})
        unsupported = pd.Series({d.decision_id: float((d.pool["post_id"].isin(chosen[d.decision_id])
                                                       & ~d.pool[PROPENSITY].gt(0)).sum()) for d in used})
        policies[name] = PolicyInputs(inclusion, reward_hat.to_numpy(float), value_hat, picks, unsupported)
        realised[name] = float(np.mean([d.pool.loc[d.pool["post_id"].isin(chosen[d.decision_id]), "reward"]
                                        .fillna(0).sum() for d in used]))
    for d in used:
        r = d.pool["reward"].fillna(0).to_numpy(float)
        n = min(k, len(r))
        spread.append(float(np.sort(r)[::-1][:n].sum() - n * r.mean()))
    scale = float(np.mean(spread)) if spread else float("nan")
    table = evaluate_policies(frame, policies, seed=settings.ranker.seed)
    table["realised"] = table["policy"].map(realised)
    table["error"] = table["value"] - table["realised"]
    table["error_captured"] = table["error"] / scale
    return table


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name a run (seeds, world size, weeks, K, flight), shared by the scripts that read
    a finished run back."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", choices=["tiny", "small", "default"], default="small")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--top", type=int, default=4, help="shortlist size K: posts boosted per advertiser-week")
    parser.add_argument("--flight-days", type=int, default=5)


def run_tag(args: argparse.Namespace, seed: int, arm: str) -> str:
    """The name of one seed's arm ("test picks on") in the workdir: `run-<tag>`, `weeks-<tag>.csv`."""
    return f"{args.size}-{seed}-{arm.replace(' ', '-')}-w{args.weeks}-k{args.top}-f{args.flight_days}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--plot", type=Path, default=None, help="write the learning curve here (PNG)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep worlds and homes here (default: temp)")
    parser.add_argument("--config", type=Path, default=None, help="YAML overlaid on configs/default.yaml")
    parser.add_argument("--no-video", action="store_true", help="skip rendering and featurising videos")
    parser.add_argument("--workers", type=int, default=1, help="video decoding processes")
    parser.add_argument("--arms", nargs="+", choices=["on", "off"], default=["on", "off"],
                        help="run test picks on, off or both (off needs the policy.test_share setting)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a seed's saved weekly results in --workdir (to run seeds in separate processes)")
    args = parser.parse_args()
    settings = load_settings(args.config)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="sparkpick-closed-loop-"))
    root.mkdir(parents=True, exist_ok=True)
    off = test_share_override(settings)
    arms = {ON: settings} | ({OFF: with_overrides(settings, off, "the test-picks-off arm")} if off else {})
    arms = {arm: value for arm, value in arms.items() if arm.split()[-1] in args.arms}
    if not arms:
        parser.error("no arm to run: this checkout has no test-pick setting for --arms off")
    weeks = mondays(settings, args.weeks)
    started = time.perf_counter()
    print(f"closed loop: {args.size} worlds, seeds {args.seeds}, {args.weeks} Mondays from {weeks[0]:%Y-%m-%d}, "
          f"K={args.top}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
    results: dict[str, list[list[Week]]] = {arm: [] for arm in arms}
    ope: list[pd.DataFrame] = []
    for seed in args.seeds:
        world: FreshWorld | None = None
        world_folder = None
        for arm, arm_settings in arms.items():
            tag = run_tag(args, seed, arm)
            saved, saved_ope = root / f"weeks-{tag}.csv", root / f"ope-{tag}.csv"
            if args.reuse and saved.exists():
                print(f"  seed {seed}, {arm}: reusing {saved}", file=sys.stderr)
                results[arm].append(load_weeks(saved))
                if saved_ope.exists() and saved_ope.stat().st_size > 1:
                    ope.append(pd.read_csv(saved_ope))
                continue
            if world is None:
                world = fresh_world(settings.world, args.size, seed)
                if not args.no_video:
                    from sparkpick.sources.demo import build_world

                    world_folder = root / f"world-{args.size}-{seed}"
                    if not (world_folder / "truth.csv").exists():
                        print(f"  seed {seed}: rendering the {args.size} world's videos", file=sys.stderr, flush=True)
                        build_world(world_folder, settings, size=args.size, seed=seed, workers=args.workers)
            weeks_out, decisions, log = run_arm(world, arm_settings, root / f"run-{tag}", world_folder, weeks,
                                                args.top, args.flight_days, args.workers, f"seed {seed}, {arm}")
            results[arm].append(weeks_out)
            pd.DataFrame([asdict(w) for w in weeks_out]).to_csv(saved, index=False)
            table = off_policy_check(log, decisions, settings, args.top) if arm == ON else pd.DataFrame()
            table = table.assign(seed=seed) if len(table) else table
            table.to_csv(saved_ope, index=False)
            if len(table):
                ope.append(table)
    print(report(results, ope, args), flush=True)
    if args.plot:
        plot(results, args)
        print(f"\nlearning curve written to {args.plot}")
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
