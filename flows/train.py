"""Training and scoring: read the warehouse, build the matrices, fit / score, record in MLflow.

`train_model` and `score_candidates` are the plain functions the CLI, the nightly run and the tests call
(their Prefect wrappers live with the other flows in `flows/deployments.py`). The work itself lives in
`models/` (training, scoring) and `features/` (matrices); MLflow is reached only through
`models/` (mlflow_store.py, run_record.py, serving.py and their neighbours).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.video import VIDEO_PREFIX
from sparkpick.clock import as_of_or_now
from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.errors import DamagedFileError, InputError
from sparkpick.home import Home
from sparkpick.warehouse import SCORES, SCORES_KEY, Warehouse, read_model_inputs, require_warehouse
from sparkpick.wording import name_advertisers

if TYPE_CHECKING:  # the models stack is imported when a command needs it, not at CLI start-up
    from models.policy_evidence import OffPolicyEvidence
    from models.ranker import ScoringModel

log = logging.getLogger("sparkpick.train")
_REMOTE_SCHEMES = ("http://", "https://", "databricks")


@dataclass(frozen=True)
class TrainResult:
    """What one training did: the run, the registered version, the promotion and the evaluation table."""

    run_id: str
    model_name: str
    model_version: str
    promoted_to: str | None
    promotion_reason: str
    metrics: pd.DataFrame
    metric_name: str
    split: str
    feature_version: str
    features: int
    tracking_uri: str
    propensity_weighted: bool
    model_summary: str = ""
    # Off-policy estimates (policy, estimator, value, low, high, ...) and the propensities' counts.
    off_policy: pd.DataFrame | None = None
    propensities: dict[str, int] = field(default_factory=dict)


def _artifact_root(home: Home, uri: str) -> Path | None:
    """Artifacts go under the home's mlruns/ unless a remote tracking server decides where."""
    return None if uri.startswith(_REMOTE_SCHEMES) else home.mlruns


def home_store(home: Home, settings: Settings) -> str:
    """The tracking URI, with the home's own store first pointed at where the home is now (a home can be
    moved or copied as one folder: see `store_move.relocate_store`)."""
    from models import store_move

    uri = home.tracking_uri(settings)
    if not settings.mlflow.tracking_uri:
        moved_from = store_move.relocate_store(home.mlruns / "mlflow.db", home.mlruns, settings.mlflow.experiment)
        if moved_from:
            log.warning("the home was moved: its MLflow store now points at %s (was %s)", home.mlruns, moved_from)
    return uri


def _descriptions(features: list[str]) -> dict[str, str]:
    from features.matrix import describe_feature

    return {f: describe_feature(f) for f in features}


def train_model(
    home: Home, settings: Settings, until: str | pd.Timestamp | None = None, promote: str = "auto"
) -> TrainResult:
    """Train on the past boosts that ended before `until` (all when None), log and register the model,
    and apply the promotion gate (`auto`, `never` or `force`)."""
    from features.matrix import feature_columns, feature_version
    from models import champion_comparison, mlflow_store, promotion, run_cleanup, run_record, serving
    from models.handover import ranks_nothing
    from models.policy_evidence import handover_decision, off_policy_evidence
    from models.prior import starting_terms
    from models.training import MODEL, fit_models

    metric = settings.mlflow.promotion_metric  # checked by the settings schema (PromotionMetric)
    if promote not in promotion.PROMOTION_MODES:
        raise InputError(f"--promote must be one of {', '.join(promotion.PROMOTION_MODES)}, not {promote!r}.")
    until_ts = as_utc(until) if until is not None else None
    uri, name = home_store(home, settings), settings.mlflow.model_name
    with mlflow_store.tracking(uri) as client:  # a training killed earlier leaves no litter past this start
        experiment_id = mlflow_store.ensure_experiment(client, settings.mlflow.experiment, _artifact_root(home, uri))
        for line in run_cleanup.sweep_interrupted(client, experiment_id, name):
            log.warning("%s", line)
    tables, video, rows = _training_rows(home, settings, until_ts)
    if rows.empty:
        prior_note = ensure_champion(home, settings)
        raise InputError(
            "No labelled past boosts to train on"
            + (f" that ended before {until_ts}" if until_ts is not None else "")
            + ": ingest Spark Ad results (spark_results) and in-feed baselines first."
            + (f" Until then the brief's rules rank the posts: {prior_note}." if prior_note else "")
        )
    features = feature_columns(rows)
    version = feature_version(settings)
    try:
        fitted = fit_models(rows, features, settings.ranker, version, label=settings.label,
                            base_terms=starting_terms(settings.ranker, settings.prior))
    except InputError as exc:
        prior_note = ensure_champion(home, settings)
        if prior_note is None:
            raise
        raise InputError(f"{exc} Until then the brief's rules rank the posts: {prior_note}.") from exc
    k = settings.ranker.shortlist_k
    new_value = float(fitted.metrics.loc[MODEL, metric])

    window = {
        "first_decision": str(rows["decision_time"].min()),
        "last_decision": str(rows["decision_time"].max()),
        "validation_from": str(fitted.split.cutoff),
        "until": str(until_ts) if until_ts is not None else "all",
    }
    # The brief's rules serve until a trained ranker proves better: the first one is compared with them.
    if prior_note := ensure_champion(home, settings):
        log.info("%s", prior_note)
    with mlflow_store.tracking(uri) as client:
        try:
            compared = champion_comparison.evaluate_champion(client, name, fitted, metric, k)
        except DamagedFileError as exc:
            if promote != "force":  # a damaged champion is never quietly replaced by the gate
                raise
            log.warning("the champion cannot be compared (%s): --promote force replaces it", exc)
            compared = champion_comparison.ChampionComparison()
        decision = promotion.decide_promotion(
            promote, metric,
            compared.new_value if compared.new_value is not None else new_value,
            compared.champion_value, compared.version, compared.problem,
            decisions=compared.decisions, since=compared.since,
        )
        champion = None
        if compared.version is not None and compared.problem is None:
            champion = serving.load_model(client, serving.champion_uri(name))
    # Hand-over by evidence: with enough logged propensities, the off-policy estimate decides (auto only).
    evidence = off_policy_evidence(tables, video, rows, settings, fitted=fitted,
                                   champion=champion.model if champion else None)
    if promote == "auto" and champion is not None:
        decision = handover_decision(evidence, decision, champion, settings)
        if decision.alias == promotion.CHAMPION and ranks_nothing(fitted.valid_scores[MODEL]):
            # a ranker that gives every post the same score orders nothing (the shortlist would follow
            # post ids): it never replaces a champion, whatever a chance tie on the figures says
            decision = promotion.PromotionDecision(
                promotion.CHALLENGER, f"kept champion v{champion.version}: the new model gives every validation "
                "post the same score, so it ranks nothing", decision.champion_value)
    with mlflow_store.tracking(uri) as client:
        logged = run_record.log_training_run(
            client, experiment_id, name, fitted, settings.model_dump(), window, rows, k, decision=decision
        )
        if evidence.table is not None:
            run_record.log_off_policy(client, logged.run_id, evidence.table, evidence.counts)
    log.info("model %s v%s: %s", name, logged.model_version, decision.reason)
    return TrainResult(
        run_id=logged.run_id, model_name=name, model_version=logged.model_version,
        promoted_to=decision.alias, promotion_reason=decision.reason, metrics=fitted.metrics,
        metric_name=metric, split=fitted.split.describe(), feature_version=version,
        features=len(features), tracking_uri=uri, propensity_weighted=fitted.weighted,
        model_summary=fitted.describe(), off_policy=evidence.table, propensities=evidence.counts,
    )


def register_prior(home: Home, settings: Settings, promote: bool) -> tuple[str, str | None]:
    """Register the prior (the brief's rules, `models/prior.py`) as a model version; with `promote` it
    becomes champion. Returns (version, alias)."""
    from features.matrix import feature_version
    from models import mlflow_store, promotion, run_record
    from models.prior import prior_model

    uri, name = home_store(home, settings), settings.mlflow.model_name
    model = prior_model(settings.prior, feature_version(settings))
    alias = promotion.CHAMPION if promote else promotion.CHALLENGER
    reason = ("no Spark Ads results yet: the brief's rules rank the posts until a trained ranker proves "
              "better" if promote else "the brief's rules, registered beside the champion for comparison")
    with mlflow_store.tracking(uri) as client:
        experiment_id = mlflow_store.ensure_experiment(client, settings.mlflow.experiment, _artifact_root(home, uri))
        logged = run_record.log_prior_run(client, experiment_id, name, model, settings.model_dump(),
                                          decision=promotion.PromotionDecision(alias, reason))
    log.info("model %s v%s (the prior): %s", name, logged.model_version, reason)
    return logged.model_version, alias


def ensure_champion(home: Home, settings: Settings) -> str | None:
    """Make sure a champion serves: when none does, register the prior as champion and say so (None: one
    already served)."""
    from models import serving

    if serving.has_champion(home_store(home, settings), settings.mlflow.model_name):
        return None
    require_warehouse(home.warehouse)  # the prior is registered only for a home that has posts to rank
    version, _ = register_prior(home, settings, promote=True)
    return f"{settings.mlflow.model_name} v{version} (the prior) is now the champion"


def with_propensities(home: Home, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with each boost's `boost_propensity` filled from the night its post was scored before
    `boosted_at` (the warehouse's `scores`), where the file did not carry one; `propensity_as_of` says
    which night (models/policy.py `join_propensities`)."""
    from models.policy import join_propensities

    with Warehouse(home.warehouse, read_only=True) as wh:
        scores = wh.read(SCORES) if wh.has_table(SCORES) else None
    out = dict(tables)
    if "spark_results" in out:
        out["spark_results"] = join_propensities(out["spark_results"], scores)
    return out


def _training_rows(
    home: Home, settings: Settings, until: pd.Timestamp | None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None, pd.DataFrame]:
    """The warehouse's tables (propensities joined), the posts' video features and the training rows of
    the boosts whose results ended before `until` (all when None), each with the night of its propensity."""
    from features.matrix import training_matrix
    from features.video.cues.catalogue import video_feature_version
    from features.video.table import video_of_posts
    from models.policy_evidence import with_propensity_nights

    inputs = read_model_inputs(home.warehouse)
    tables, video = inputs.tables, video_of_posts(inputs, video_feature_version(settings.video))
    tables = with_propensities(home, tables)
    rows = training_matrix(tables, settings, video=video, until=until)
    if until is not None:
        rows = rows[pd.to_datetime(rows["ended_at"]) < until].reset_index(drop=True)
    return tables, video, with_propensity_nights(rows, tables["spark_results"])


def evaluate_policies_now(
    home: Home, settings: Settings, until: str | pd.Timestamp | None = None
) -> OffPolicyEvidence:
    """`sparkpick evaluate`: the off-policy estimates of the prior, the champion, the challenger (the
    registry's aliases, when they exist) and the brief's heuristic, on every logged boost with a
    propensity whose results ended before `until` (all when None). Nothing is trained or registered."""
    from models import mlflow_store, promotion, serving
    from models.policy_evidence import off_policy_evidence

    until_ts = as_utc(until) if until is not None else None
    tables, video, rows = _training_rows(home, settings, until_ts)
    name = settings.mlflow.model_name
    served: dict[str, ScoringModel | None] = {}
    with mlflow_store.tracking(home_store(home, settings)) as client:
        for alias in (promotion.CHAMPION, promotion.CHALLENGER):
            found = None
            if serving.alias_version(client, name, alias) is not None:
                found = serving.load_model(client, f"models:/{name}@{alias}").model
            served[alias] = found
    return off_policy_evidence(tables, video, rows, settings, champion=served[promotion.CHAMPION],
                               challenger=served[promotion.CHALLENGER], unseen_only=False)


def scoring_run_id(as_of: pd.Timestamp, model_version: str | None) -> str:
    """A deterministic id for one scoring (same night, same model: same id, so re-runs add nothing)."""
    return f"{as_of:%Y%m%dT%H%M%S}-v{model_version or 'adhoc'}"


def score_candidates(
    home: Home,
    settings: Settings,
    as_of: str | pd.Timestamp | None = None,
    top_k: int | None = None,
    model_uri: str | None = None,
    cut: bool = True,
) -> pd.DataFrame:
    """Score every advertiser's candidates as of `as_of` (default: now) with the champion (or
    `model_uri`; with neither, the prior is registered as champion first), apply the shortlist policy
    for `top_k` slots (`report.top_k` when None: models/policy.py), store all scores in the warehouse
    table `scores`, and return the ranked frame: every candidate when `top_k` is None or `cut` is off,
    else each advertiser's shortlist."""
    from features.matrix import candidate_matrix, feature_version
    from models import mlflow_store, serving
    from models.past_boosts import boost_history_at, finished_boosts
    from models.policy import apply_policy
    from models.prior import PRIOR_KIND, RANKER_KIND
    from models.scoring import score_frame, shortlist

    as_of_ts = as_of_or_now(as_of)
    uri = model_uri or serving.champion_uri(settings.mlflow.model_name)
    if model_uri is None and (prior_note := ensure_champion(home, settings)):
        log.warning("no model served yet: %s", prior_note)
    with mlflow_store.tracking(home_store(home, settings)) as client:
        served = serving.load_model(client, uri)
    serving.check_feature_version(served, feature_version(settings))
    from features.video.cues.catalogue import video_feature_version
    from features.video.table import video_of_posts

    inputs = read_model_inputs(home.warehouse)
    tables, video = inputs.tables, video_of_posts(inputs, video_feature_version(settings.video))
    candidates = candidate_matrix(tables, as_of_ts, settings, video=video)
    missing = [f for f in served.model.feature_names if f not in candidates.columns]
    if [f for f in missing if not f.startswith(VIDEO_PREFIX)]:
        raise InputError(
            f"The candidates lack feature(s) the model {served.uri} needs: {', '.join(missing[:8])}. "
            "Retrain with `sparkpick train`."
        )
    if missing and len(candidates):
        # No video features in the warehouse (none featurised yet): the cues stay missing, as for a post
        # without a video, and LightGBM routes them down its missing-value branches.
        log.warning("no video features for %d model input(s); scoring without them", len(missing))
        candidates = candidates.assign(**{f: float("nan") for f in missing})
    scored = score_frame(candidates, served.model, _descriptions(list(served.model.feature_names)))
    if len(scored):
        scored = apply_policy(scored, boost_history_at(tables, as_of_ts, settings), settings.policy,
                              top_k or settings.report.top_k, as_of_ts)
    scored = name_advertisers(scored, tables.get("advertisers"))
    run_id = scoring_run_id(as_of_ts, served.version)
    scored.insert(2, "model_version", served.version or "")
    scored["model_kind"] = PRIOR_KIND if served.model.is_prior else RANKER_KIND
    scored["boosts_known"] = finished_boosts(tables, as_of_ts).reindex(scored["advertiser_id"]).fillna(0).to_numpy(int)
    scored["model_uri"] = served.uri
    scored["model_run_id"] = served.run_id or ""
    scored["run_id"] = run_id
    scored["as_of"] = as_of_ts
    if len(scored):
        _store_scores(home, scored)
    return scored if top_k is None or not cut else shortlist(scored, top_k)


def _store_scores(home: Home, scored: pd.DataFrame) -> None:
    """All scores of the run into the `scores` table, keyed by (run_id, advertiser_id, post_id)."""
    keep = [
        c for c in scored.columns
        if c.startswith(("flag_", "reason_", "uplift")) or c in (
            "run_id", "advertiser_id", "post_id", "rank", "score", "predicted_uplift", "model_version",
            "model_uri", "model_run_id", "as_of", "model_kind", "status", "is_test_pick", "boost_propensity",
            "boost_again", "held_back", "realised_uplift", "score_rank",
        )
    ]
    frame = scored[keep].drop_duplicates(list(SCORES_KEY), keep="first").copy()
    for col in frame.columns:
        if col.startswith("flag_"):
            frame[col] = frame[col].astype("boolean")
    with Warehouse(home.warehouse) as wh:
        wh.upsert_frame(SCORES, frame, SCORES_KEY)
