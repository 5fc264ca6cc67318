"""The live-boost monitor on simulated delivery whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import monitor
from sparkpick.config import MonitorSettings, Settings
from tests.models import hourly_synth as hs

HOUR = pd.Timedelta(hours=1)
T_NORMS = hs.START + pd.Timedelta(days=40)


@pytest.fixture(scope="module")
def past() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return hs.world(seed=1)


@pytest.fixture(scope="module")
def norms(past: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], settings: Settings) -> monitor.DeliveryNorms:
    hourly, results, posts = past
    return monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T_NORMS, settings.monitor)


def _live(seed: int, uplifts: list[float], start: pd.Timestamp, hours: int, spend_per_hour: float
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = [hs.boost_rows(rng, f"L{i:03d}", start, hours, u, spend_per_hour, tail=False) for i, u in enumerate(uplifts)]
    boosts = pd.DataFrame({"post_id": [f"L{i:03d}" for i in range(len(uplifts))], "boosted_at": start,
                           "advertiser_id": "a1"})
    return pd.concat(rows, ignore_index=True), boosts


def _ever_paused(hourly: pd.DataFrame, boosts: pd.DataFrame, norms: monitor.DeliveryNorms,
                 config: MonitorSettings, start: pd.Timestamp, looks: range) -> tuple[np.ndarray, np.ndarray]:
    """Whether each boost was paused at some hourly look, and the first look (hours) it was."""
    first = np.full(len(boosts), np.inf)
    for h in looks:
        out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + h * HOUR, config, 0.8)
        paused = out.set_index("post_id").loc[boosts["post_id"], "decision"].to_numpy() == "pause"
        first = np.where(paused & ~np.isfinite(first), h, first)
    return np.isfinite(first), first


def test_norms_learn_the_lag_and_the_learning_phase(norms: monitor.DeliveryNorms) -> None:
    assert norms.fitted and norms.boosts == 60
    assert norms.lag_kernel.sum() == pytest.approx(1.0)
    true_cdf = np.cumsum(hs.lag_kernel())
    cdf = np.cumsum(norms.lag_kernel)
    for d in (4, 8, 16, 32):  # the share reported within d hours, where it matters for exposure
        assert abs(cdf[d - 1] - true_cdf[d - 1]) < 0.06, d
    # first half-day dearer than settled delivery (truth 0.55), the third day nearly settled (truth 0.9)
    assert norms.learning[0] < 0.75
    assert norms.learning[-1] > 0.75
    assert norms.pooled_prior is not None and abs(norms.pooled_prior.mean) < 0.25


def test_live_boosts_are_those_with_rows_by_t_and_no_final_result(past: tuple, settings: Settings) -> None:
    hourly, results, _ = past
    t = hs.START + pd.Timedelta(days=3)
    live = monitor.live_boosts(hourly, results, t)
    keys = set(zip(live["post_id"], live["boosted_at"], strict=True))
    for r in results.itertuples():
        started = r.boosted_at.floor("h") + HOUR <= t
        assert ((r.post_id, r.boosted_at) in keys) == (started and r.ended_at > t), r.post_id
    # once its result row is in (ended_at <= T), a boost is no longer live
    assert monitor.live_boosts(hourly, results, hs.START + pd.Timedelta(days=60)).empty


def test_output_columns_and_no_baseline_is_too_early(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    start = T_NORMS
    hourly, boosts = _live(3, [0.0, 0.0], start, 48, 6.0)
    boosts.loc[1, "advertiser_id"] = "a2"  # an advertiser without in-feed baselines
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + 40 * HOUR, settings.monitor, 0.8)
    assert list(out.columns[: len(monitor.OUTPUT_COLUMNS)]) == monitor.OUTPUT_COLUMNS
    row = out.set_index("post_id").loc["L001"]
    assert row["decision"] == "too_early"
    assert "no in-feed ads" in row["reason"]
    assert np.isnan(row["estimated_uplift"]) and np.isnan(row["baseline_cpa"])
    judged = out.set_index("post_id").loc["L000"]
    assert judged["decision"] in monitor.DECISIONS and judged["baseline_cpa"] == pytest.approx(hs.BASELINE_CPA)
    assert judged["low"] <= judged["estimated_uplift"] <= judged["high"]
    # before min_hours nothing is judged either
    early = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + 5 * HOUR, settings.monitor, 0.8)
    assert (early["decision"] == "too_early").all()


def test_rows_after_t_never_change_the_result(norms: monitor.DeliveryNorms, past: tuple, settings: Settings) -> None:
    start = T_NORMS
    hourly, boosts = _live(4, [-0.7, 0.0, 0.4], start, 96, 6.0)
    t = start + 50 * HOUR
    before = hourly[hourly["hour_start"] + HOUR <= t]
    later = hourly[hourly["hour_start"] + HOUR > t].assign(conversions=lambda f: f["conversions"] * 10 + 5)
    a = monitor.assess_boosts(before, boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    b = monitor.assess_boosts(pd.concat([later, before]), boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    pd.testing.assert_frame_equal(a, b)
    # and the norms too: boosts still running at T and hours after T are ignored
    p_hourly, p_results, p_posts = past
    t2 = hs.START + pd.Timedelta(days=12)
    n1 = monitor.fit_delivery_norms(p_hourly, p_results, hs.baselines(), p_posts, t2, settings.monitor)
    cut = p_hourly[p_hourly["hour_start"] + HOUR <= t2]
    n2 = monitor.fit_delivery_norms(cut, p_results[p_results["ended_at"] <= t2], hs.baselines(), p_posts, t2,
                                    settings.monitor)
    np.testing.assert_allclose(n1.lag_kernel, n2.lag_kernel)
    np.testing.assert_allclose(n1.learning, n2.learning)


def test_lag_correction_keeps_an_early_lagged_boost_from_looking_dearer(norms: monitor.DeliveryNorms,
                                                                       settings: Settings) -> None:
    """At 18 h a boost exactly as good as in-feed ads has most conversions still unreported."""
    start = T_NORMS
    uplifts = [0.0] * 40
    hourly, boosts = _live(5, uplifts, start, 18, 8.0)
    t = start + 18 * HOUR
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    raw = out["spend"].sum() / out["conversions"].sum() / hs.BASELINE_CPA
    assert raw > 1.4  # naively it looks much dearer than in-feed
    assert abs(out["estimated_uplift"].median()) < 0.2  # corrected, it is as good as in-feed
    assert (out["decision"] != "pause").all()
    flat = monitor.DeliveryNorms(as_of=norms.as_of, lag_kernel=np.array([1.0]), learning=np.ones(4),
                                 learning_edges=norms.learning_edges, boosts=0, fitted=False,
                                 priors=norms.priors, pooled_prior=norms.pooled_prior)
    naive = monitor.assess_boosts(hourly, boosts, hs.baselines(), flat, t, settings.monitor, 0.8)
    assert naive["estimated_uplift"].median() < out["estimated_uplift"].median() - 0.2


def _false_pause_check(norms: monitor.DeliveryNorms, config: MonitorSettings, at_par: int, cheaper: int,
                       seed: int) -> None:
    start = T_NORMS
    hourly, boosts = _live(seed, [0.0] * at_par + [0.3] * cheaper, start, 96, 8.0)
    paused, _ = _ever_paused(hourly, boosts, norms, config, start, range(6, 97))
    alpha = 1 - config.pause_confidence
    assert paused[:at_par].mean() <= alpha + 2 * np.sqrt(alpha * (1 - alpha) / at_par)
    assert paused[at_par:].mean() <= alpha / 2


def test_false_pauses_stay_below_alpha_under_hourly_looks(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """Boosts exactly as good as in-feed ads (the hardest honest case) and cheaper ones, looked at every hour
    for 96 hours: the share ever paused stays within alpha (plus binomial noise)."""
    _false_pause_check(norms, settings.monitor, at_par=60, cheaper=20, seed=6)


@pytest.mark.slow
def test_false_pauses_stay_below_alpha_on_many_boosts(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    _false_pause_check(norms, settings.monitor, at_par=400, cheaper=100, seed=16)


def test_the_pause_bet_moves_power_to_dear_boosts_without_false_pauses(norms: monitor.DeliveryNorms,
                                                                      settings: Settings) -> None:
    """Betting on "at least 25% dearer" rather than "any dearer" gathers evidence faster on a 1.6x dearer
    boost; the null is unchanged, so boosts as good as in-feed ads stay within alpha even with a far bet."""
    start = T_NORMS
    hourly, boosts = _live(8, [np.log(1 / 1.6)] * 40, start, 72, 8.0)
    at = start + 48 * HOUR
    near = settings.monitor.model_copy(update={"pause_bet_dearer": 0.0})
    dear = settings.monitor.model_copy(update={"pause_bet_dearer": 0.25})
    e_near = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, at, near, 0.8)["e_pause"]
    e_dear = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, at, dear, 0.8)["e_pause"]
    gain = (np.log(e_dear) - np.log(e_near))[e_near > 1]  # the boosts whose data already says "dearer"
    assert len(gain) >= 20 and (gain > 0).mean() >= 0.8 and gain.mean() > 0.1
    _false_pause_check(norms, settings.monitor.model_copy(update={"pause_bet_dearer": 1.0}),
                       at_par=60, cheaper=20, seed=9)


def test_bad_boosts_get_paused(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    start = T_NORMS
    hourly, boosts = _live(7, [np.log(1 / 2.5)] * 30, start, 96, 8.0)
    paused, first = _ever_paused(hourly, boosts, norms, settings.monitor, start, range(12, 97, 6))
    assert paused.mean() >= 0.8
    assert np.median(first[paused]) <= 72


def test_monitor_boosts_wires_the_three_steps(past: tuple, settings: Settings) -> None:
    hourly, results, posts = past
    start = T_NORMS
    live_rows, boosts = _live(8, [0.0, np.log(1 / 3)], start, 80, 8.0)
    posts = pd.concat([posts, boosts[["post_id", "advertiser_id"]]], ignore_index=True)
    predictions = pd.DataFrame({"post_id": ["L000"], "predicted_uplift": [0.4], "uplift_low": [0.1],
                                "uplift_high": [0.7]})
    usd = pd.DataFrame({"advertiser_id": boosts["advertiser_id"].unique(), "currency": "USD"})
    out = monitor.monitor_boosts(pd.concat([hourly, live_rows]), results, hs.baselines(), posts,
                                 start + 80 * HOUR, settings, predictions=predictions, advertisers=usd)
    assert list(out["post_id"]) == ["L000", "L001"]
    assert out.loc[0, "predicted_uplift"] == pytest.approx(0.4)
    assert out.loc[0, "prior_source"] == "the model's prediction"
    assert out.loc[1, "decision"] == "pause"
    assert "pause" in out.loc[1, "reason"] and "$" in out.loc[1, "reason"]
    # Amounts are in the advertiser's currency; with none known, a bare number rather than a wrong "$".
    for advertisers, shown in ((usd.assign(currency="JPY"), " JPY"), (usd.assign(currency="EUR"), "€"), (None, "")):
        other = monitor.monitor_boosts(pd.concat([hourly, live_rows]), results, hs.baselines(), posts,
                                       start + 80 * HOUR, settings, predictions=predictions, advertisers=advertisers)
        assert list(other["decision"]) == list(out["decision"])
        assert "$" not in other.loc[1, "reason"] and shown in other.loc[1, "reason"]
