"""A brand that never boosted: night one gets a shortlist from the prior, registered in a real MLflow store,
scored from a real DuckDB warehouse; `sparkpick train` with no boosts says the prior serves."""

from __future__ import annotations

import html
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from features.readiness import BLOCKING_FLAGS
from flows.train import score_candidates, train_model
from models import mlflow_store, promotion, serving
from sparkpick.config import Settings, with_overrides
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.demo.tables import generate_tables
from sparkpick.warehouse import SCORES, Warehouse
from sparkpick.wording import TEST_PICK_SENTENCE
from tests.entry_point import SPARKPICK


def never_boosted(settings: Settings) -> dict[str, pd.DataFrame]:
    """The tiny demo world's tables without a single Spark Ad (results or live delivery)."""
    tables = generate_tables(settings.world, "tiny", 7).contract()
    for name in ("spark_results", "spark_hourly"):
        if name in tables:
            tables[name] = tables[name].iloc[:0]
    return tables


# The tiny world's advertisers have fewer than 2K posts that can run (test picks need policy.test_min_pool
# x K): in this module test picks are allowed from K + 1 posts, so that night one has some.
TESTS_FROM_K_PLUS_ONE = "policy:\n  test_min_pool: 1.0\n"


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return with_overrides(settings, yaml.safe_load(TESTS_FROM_K_PLUS_ONE), "tests from K + 1 posts")


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> tuple[Home, pd.DataFrame]:
    home = Home.at(tmp_path_factory.mktemp("cold") / "home").ensure()
    with Warehouse(home.warehouse) as wh:
        wh.upsert(never_boosted(settings))
    scored = score_candidates(home, settings, as_of=settings.world.end, top_k=3, cut=False)
    return home, scored


def test_night_one_scores_with_the_prior_registered_as_champion(cold, settings: Settings) -> None:
    home, scored = cold
    assert len(scored) and (scored["model_kind"] == "prior").all() and (scored["model_version"] == "1").all()
    with mlflow_store.tracking(home.tracking_uri(settings)) as client:
        mv = client.get_model_version_by_alias(settings.mlflow.model_name, promotion.CHAMPION)
        assert str(mv.version) == "1" and mv.tags["kind"] == "prior" and "brief's rules" in mv.tags["promotion"]
        run = client.get_run(mv.run_id)
        assert run.data.params["prior.band"] == "1.1"
        # it loads as any MLflow model and gives the same scores as sparkpick's own scoring
        pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.mlflow.model_name}@champion")
    from features.matrix import candidate_matrix

    with Warehouse(home.warehouse, read_only=True) as wh:
        candidates = candidate_matrix(wh.contract_tables(), pd.Timestamp(settings.world.end), settings)
    names = list(pyfunc.metadata.get_input_schema().input_names())
    frame = candidates.reindex(columns=names).astype("float64")
    out = pyfunc.predict(frame)
    mine = scored.set_index("post_id").loc[candidates["post_id"], "score"].to_numpy()
    assert np.allclose(out["score"].to_numpy(), mine)
    # an honest scale: no uplift claimed, a wide band either side
    assert (scored["predicted_uplift"] == 0).all()
    assert np.allclose(scored["uplift_high"] - scored["uplift_low"], 2 * settings.prior.band)


def test_night_one_shortlist_has_reasons_a_test_pick_and_stored_propensities(cold, settings: Settings) -> None:
    home, scored = cold
    from sparkpick.shortlist import top_per_advertiser

    short = top_per_advertiser(scored, 3)
    assert set(short["advertiser_id"]) == set(scored["advertiser_id"])
    # every slot a team can fill tonight is filled (in the tiny world most posts have no code yet)
    can_run = scored[scored["status"] == ""].groupby("advertiser_id").size()
    assert short.groupby("advertiser_id").size().eq(can_run.clip(upper=3)).all() and can_run.min() >= 2
    assert short["reason_1"].str.contains(r"\((?:helps|holds it back)\)").all()
    assert (short["boost_propensity"] > 0).all() and (short["boost_propensity"] <= 1).all()
    # only posts a team can boost tonight take a slot; the promising ones that cannot are held back apart
    assert not short[list(BLOCKING_FLAGS)].any(axis=None)
    held = scored[scored["held_back"]]
    assert len(held) and (held["status"] == "blocked").all() and held[list(BLOCKING_FLAGS)].any(axis=1).all()
    with Warehouse(home.warehouse, read_only=True) as wh:
        stored = wh.read(SCORES)
    assert {"boost_propensity", "is_test_pick", "model_kind", "status", "held_back"} <= set(stored.columns)
    assert stored["is_test_pick"].sum() == short["is_test_pick"].sum()
    # scoring the same night again gives the same test picks
    again = score_candidates(home, settings, as_of=settings.world.end, top_k=3, cut=False)
    assert list(again.query("is_test_pick")["post_id"]) == list(scored.query("is_test_pick")["post_id"])


def test_train_without_boosts_says_the_prior_serves(cold, settings: Settings) -> None:
    home, _ = cold
    with pytest.raises(InputError, match="No labelled past boosts"):
        train_model(home, settings)
    with mlflow_store.tracking(home.tracking_uri(settings)) as client:  # the prior still serves, nothing added
        assert serving.alias_version(client, settings.mlflow.model_name, promotion.CHAMPION) == "1"


def test_cli_score_and_report_words_on_night_one(cold, settings: Settings, tmp_path: Path) -> None:
    home, _ = cold
    overlay = tmp_path / "tests-from-k-plus-one.yaml"
    overlay.write_text(TESTS_FROM_K_PLUS_ONE)
    done = subprocess.run(
        [SPARKPICK, "--home", str(home.root), "--config", str(overlay), "score", "--as-of", str(settings.world.end), "--top", "3"],
        capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "No Spark Ads results yet: ranked by the brief's rules." in out
    assert " ".join(TEST_PICK_SENTENCE.split()) in out
    assert "Worth a slot once it can run:" in out and "cannot be boosted yet" in out


def test_the_report_labels_the_prior_marks_test_picks_and_counts_left_out(cold, settings: Settings) -> None:
    from datetime import datetime

    from sparkpick.report import ReportMeta, render_shortlist_html
    from sparkpick.shortlist import top_per_advertiser

    _, scored = cold
    short = top_per_advertiser(scored, 3)
    others = scored.head(3).assign(status=["live", "boosted_before", "boosted_before"],
                                   boost_again=[False, True, False], realised_uplift=[None, 0.7, -0.2])
    meta = ReportMeta(as_of=datetime(2026, 11, 1), ran_at=datetime(2026, 11, 1), model_version="1",
                      candidates_considered=len(scored), polish_ad_threshold=65.0)
    page = html.unescape(" ".join(render_shortlist_html(short, meta, {}, others=others).split()))
    assert "No Spark Ads results yet: ranked by the brief's rules." in page
    assert page.count(TEST_PICK_SENTENCE) == 2 * int(short["is_test_pick"].sum()) > 0  # badge title and text
    assert ("Left out of the shortlist: 1 post is being boosted right now and 2 were boosted before and take "
            "no fresh slot.") in page
    assert "Boost again: its last Spark Ad came at 0.50x your in-feed cost" in page


def test_a_later_boost_is_joined_to_the_propensity_scored_before_it(cold, settings: Settings) -> None:
    from flows.train import with_propensities
    from models.policy_evidence import propensity_counts
    from sparkpick.warehouse import read_model_inputs

    home, scored = cold
    night = pd.Timestamp(settings.world.end)
    pick = scored[scored["is_test_pick"]].iloc[0]
    unscored = scored[scored["boost_propensity"] == 0].iloc[0]  # blocked that night, boosted anyway
    tables = dict(read_model_inputs(home.warehouse).tables)
    base = {"ended_at": night + pd.Timedelta(days=9), "spend": 100.0, "impressions": 10000, "views_2s": 3000,
            "views_6s": 1000, "likes": 50, "comments": 5, "shares": 3, "clicks": 80, "conversions": 4}
    tables["spark_results"] = pd.DataFrame([
        {"post_id": pick["post_id"], "boosted_at": night + pd.Timedelta(days=2), **base},
        {"post_id": unscored["post_id"], "boosted_at": night + pd.Timedelta(days=2), **base},
        {"post_id": pick["post_id"], "boosted_at": night - pd.Timedelta(days=3), **base},  # before the scoring
    ])
    joined = with_propensities(home, tables)["spark_results"]
    assert joined["boost_propensity"].iloc[0] == pytest.approx(pick["boost_propensity"])
    assert joined["propensity_as_of"].iloc[0] == night
    assert joined["boost_propensity"].iloc[1:].isna().all()  # never invented
    counts = propensity_counts(joined.assign(boost_propensity=joined["boost_propensity"]))
    assert counts == {"from_scores": 1, "from_data": 0, "none": 2}


FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 80, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}


@pytest.mark.slow
def test_the_first_ranker_faces_the_prior_off_policy_and_evaluate_shows_the_estimates(
    tmp_path: Path, settings: Settings
) -> None:
    fast = with_overrides(settings, FAST)
    home = Home.at(tmp_path / "home").ensure()
    with Warehouse(home.warehouse) as wh:  # the small demo world's boosts carry their old policy's propensity
        wh.upsert(generate_tables(settings.world, "small", 7).contract())
    result = train_model(home, fast)
    assert result.model_version == "2"  # the prior is v1
    assert result.off_policy is not None and set(result.off_policy["policy"]) == {
        "prior", "champion", "challenger", "heuristic"}
    assert result.propensities["from_data"] > 0
    dr = result.off_policy.query("estimator == 'dr'").set_index("policy")
    promoted = dr.loc["challenger", "low"] > dr.loc["champion", "value"]
    assert (result.promoted_to == "champion") == promoted
    assert "off-policy" in result.promotion_reason and "doubly robust" in result.promotion_reason
    with mlflow_store.tracking(home.tracking_uri(fast)) as client:
        metrics = client.get_run(result.run_id).data.metrics
    assert {"off_policy.challenger.dr", "off_policy.challenger.dr.low", "off_policy.prior.dr.high",
            "off_policy.heuristic.ips"} <= set(metrics)
    # without propensities the gate says so and falls back to the validation decisions
    no_props = with_overrides(fast, {"policy": {"handover_min_logged": 10_000}})
    again = train_model(home, no_props)
    assert "the validation gate decided" in again.promotion_reason
    done = subprocess.run([SPARKPICK, "--home", str(home.root), "evaluate"], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "heuristic" in out and "challenger" in out and "95% interval" in out


def test_a_first_night_writes_a_shortlist_ranked_by_the_brief(tmp_path: Path, settings: Settings) -> None:
    import io
    import json

    from rich.console import Console

    from flows.commands.nightly import _print_outcome
    from flows.nightly import report_date, run_nightly

    home = Home.at(tmp_path / "home").ensure()
    with Warehouse(home.warehouse) as wh:
        wh.upsert(never_boosted(settings))
    nothing = type("Summary", (), {"new_rows": 0, "problems": [], "lines": lambda self: [], "done": 0,
                                   "cached": 0, "failed": 0, "failures": []})()
    stages = {"ingest": lambda *a, **kw: nothing, "featurize": lambda *a, **kw: nothing,
              "score": score_candidates, "train": train_model}
    as_of = pd.Timestamp(settings.world.end)
    # three slots: one brand of the tiny world has four posts that can run, so it gets a test pick
    settings = with_overrides(settings, {"report": {"top_k": 3}})
    result = run_nightly(home, settings, as_of=as_of, stages=stages)
    assert result.ok and not result.trained and len(result.shortlist)
    assert any("no ranker trained yet" in note for note in result.notes)
    sizes = result.shortlist.groupby("advertiser_id").size()
    assert len(sizes) == 2 and sizes.between(2, 3).all()
    folder = home.reports / report_date(as_of, settings.nightly.timezone)
    info = json.loads((folder / "report.json").read_text())
    assert info["ranking"] == "No Spark Ads results yet: ranked by the brief's rules." and info["test_picks"] > 0
    assert info["held_back"] > 0 and info["left_out"]["blocked"] > 0
    out = io.StringIO()
    _print_outcome(Console(file=out, width=200), folder)
    printed = " ".join(out.getvalue().split())
    assert "No Spark Ads results yet: ranked by the brief's rules." in printed and TEST_PICK_SENTENCE in printed


def test_scoring_an_empty_home_registers_no_model(tmp_path: Path, settings: Settings) -> None:
    home = Home.at(tmp_path / "empty").ensure()
    with pytest.raises(InputError, match="No warehouse"):
        score_candidates(home, settings, as_of="2025-06-01")
    # The prior is registered only for a home that has posts to rank.
    assert not serving.has_champion(home.tracking_uri(settings), settings.mlflow.model_name)
