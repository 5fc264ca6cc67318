"""The monitor before the warehouse holds finished boosts to learn from: the default lag and learning phase,
the pause threshold calibrated on simulated good boosts (models/monitor/simulate.py), and the reasons
saying so; and the calibration's safety margin for small samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from models import monitor
from models.monitor import calibration, series, simulate
from sparkpick.config import MonitorSettings, Settings
from tests.models import hourly_synth as hs

HOUR = pd.Timedelta(hours=1)
T0 = hs.START + pd.Timedelta(days=40)


def _empty() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    hourly, results, posts = hs.world(seed=1, finished=3)
    return hourly.iloc[:0], results.iloc[:0], posts.iloc[:0]


@pytest.fixture(scope="module")
def cold(settings: Settings) -> monitor.DeliveryNorms:
    hourly, results, posts = _empty()
    return monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T0, settings.monitor)


def _boosts(seed: int, uplifts: np.ndarray, hours: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = [hs.boost_rows(rng, f"L{i:03d}", T0, hours, float(u), float(rng.uniform(2, 8)), tail=False)
            for i, u in enumerate(uplifts)]
    boosts = pd.DataFrame({"post_id": [f"L{i:03d}" for i in range(len(uplifts))], "boosted_at": T0,
                           "advertiser_id": "a1"})
    return pd.concat(rows, ignore_index=True), boosts


def _first_pauses(hourly: pd.DataFrame, boosts: pd.DataFrame, norms: monitor.DeliveryNorms,
                  config: MonitorSettings, looks: range) -> np.ndarray:
    first = np.full(len(boosts), np.inf)
    for h in looks:
        out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, T0 + h * HOUR, config, 0.8)
        paused = out.set_index("post_id").loc[boosts["post_id"], "decision"].to_numpy() == "pause"
        first = np.where(paused & ~np.isfinite(first), h, first)
    return first


def test_an_empty_warehouse_assumes_the_defaults_and_calibrates_on_simulated_boosts(
        cold: monitor.DeliveryNorms, settings: Settings) -> None:
    config = settings.monitor
    assert not cold.fitted and cold.assumed and cold.usable
    assert config.default_lag_shares is not None and config.default_learning is not None
    assert np.allclose(cold.learning, config.default_learning)
    edges = config.lag_bin_edges_hours
    assert cold.reported_share(np.array([edges[1] - 1]))[0] == pytest.approx(config.default_lag_shares[0])
    assert cold.calibration is not None and cold.calibration.population is None
    assert cold.calibration.simulated is not None and np.isfinite(cold.calibration.simulated)
    # the same warehouse gives the same threshold (the simulation is seeded)
    hourly, results, posts = _empty()
    again = monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T0, config)
    assert again.calibration == cold.calibration
    # without defaults, the old behaviour: no verdict before norms_min_boosts
    off = config.model_copy(update={"default_lag_shares": None, "default_learning": None})
    bare = monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T0, off)
    assert not bare.usable and (bare.calibration is None or bare.calibration.simulated is None)


def test_a_cold_start_verdict_says_its_rule_was_simulated(cold: monitor.DeliveryNorms, settings: Settings) -> None:
    hourly, boosts = _boosts(3, np.array([np.log(1 / 3)] * 3 + [0.3] * 3), 60)
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), cold, T0 + 60 * HOUR, settings.monitor, 0.8)
    assert out["decision"].isin(["pause", "keep", "scale"]).all()
    judged = out[out["decision"].isin(["pause", "keep"])]
    assert judged["reason"].str.contains("simulated good boosts, with the reporting delay and learning phase "
                                         "assumed").all()
    assert judged["reason"].str.contains("as no advertiser has a good finished boost yet").all()
    assert (out["decision"].iloc[:3] == "pause").all()
    assert (out["decision"].iloc[3:] != "pause").all()


def test_too_few_good_finished_boosts_simulate_with_the_learnt_lag(settings: Settings) -> None:
    """Norms fitted on 30 finished boosts, but fewer than calibration_min_boosts good ones: the threshold
    is simulated with the fitted lag and learning, and the reason says which."""
    config = settings.monitor.model_copy(update={"norms_min_boosts": 20, "calibration_min_boosts": 40})
    hourly, results, posts = hs.world(seed=2, finished=30)
    norms = monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T0, config)
    assert norms.fitted and norms.calibration is not None and norms.calibration.population is None
    threshold, words, own = norms.calibration.for_advertiser("a1")
    assert threshold == norms.calibration.simulated and not own
    assert "learnt from 30 finished boosts" in words and "all advertisers have only" in words


def _simulated_false_pauses(cold: monitor.DeliveryNorms, config: MonitorSettings, n: int, seed: int) -> None:
    """New boosts whose uplifts follow the simulation's prior N(0, prior_default_sd), delivered with a lag
    and learning phase no slower than the assumed ones, looked at every hour for 96 hours: at most
    `pause_rate` of the good ones are ever paused (binomial noise allowed), and dear ones are caught."""
    rng = np.random.default_rng(seed)
    uplifts = rng.normal(0, config.prior_default_sd, n)
    hourly, boosts = _boosts(seed, uplifts, 96)
    first = _first_pauses(hourly, boosts, cold, config, range(6, 97))
    good, dear = uplifts > 0, uplifts < -np.log(2)
    rate = config.pause_rate
    assert np.isfinite(first[good]).mean() <= rate + 2 * np.sqrt(rate * (1 - rate) / good.sum())
    assert np.isfinite(first[dear]).mean() >= 0.5
    assert (first[dear] <= 48).mean() >= 0.3


def test_the_simulated_calibration_keeps_good_boosts_within_the_pause_rate(cold: monitor.DeliveryNorms,
                                                                          settings: Settings) -> None:
    _simulated_false_pauses(cold, settings.monitor, n=120, seed=41)


@pytest.mark.slow
def test_the_simulated_calibration_keeps_good_boosts_within_the_pause_rate_on_many(
        cold: monitor.DeliveryNorms, settings: Settings) -> None:
    _simulated_false_pauses(cold, settings.monitor, n=500, seed=42)


def test_a_small_calibration_sample_is_held_further_inside_the_spend_budget() -> None:
    """The upper bound's margin: with z > 0 the threshold is higher than at the point estimate, the spend
    share's upper bound stays within the budget, and the more boosts stand behind the same shares, the
    closer the threshold comes to the point estimate's."""
    rng = np.random.default_rng(5)
    z = float(ndtri(0.9))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stats = np.full((n, 4), -np.inf)
        stats[:, 1] = rng.normal(0, 1, n)
        return stats, np.ones(n), np.tile([40.0, 30.0, 20.0, 10.0], (n, 1))

    small, large = sample(60), sample(6000)
    gaps = []
    for stats, good, remaining in (small, large):
        point = calibration._pause_threshold(stats, good, remaining, 1.0, 0.02)
        bound = calibration._pause_threshold(stats, good, remaining, 1.0, 0.02, z)
        assert bound > point
        paused = stats.max(axis=1) > bound
        share = paused.mean() * 30.0 / 40.0
        se = np.sqrt(((paused * 30.0 - share * 40.0) ** 2).sum()) / (40.0 * len(good))
        assert share + z * se <= 0.02 + 1e-6
        gaps.append(bound - point)
    assert gaps[0] > gaps[1]


def test_the_cold_start_rule_at_t_never_uses_later_boosts(settings: Settings) -> None:
    """Boosts that start and finish after T change nothing at T: the same assumed norms and the same
    simulated threshold as an empty warehouse."""
    hourly, results, posts = hs.world(seed=4, finished=25)
    t = hs.START  # before every boost
    later = monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, t, settings.monitor)
    empty = monitor.fit_delivery_norms(hourly.iloc[:0], results.iloc[:0], hs.baselines(), posts.iloc[:0], t,
                                       settings.monitor)
    assert later.assumed and not later.fitted
    assert later.calibration == empty.calibration and later.calibration is not None
    assert later.calibration.simulated is not None


def _overdispersed_norms(settings: Settings, dispersion: float) -> monitor.DeliveryNorms:
    """Norms fitted on 40 finished boosts whose daily conversions vary `dispersion` times as much as
    Poisson ones, with too few good ones to calibrate on (calibration_min_boosts 80): a simulated rule."""
    config = settings.monitor.model_copy(update={"norms_min_boosts": 20, "calibration_min_boosts": 80})
    hourly, results, posts = hs.world(seed=2, finished=40, day_dispersion=dispersion)
    return monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T0, config)


def test_an_overdispersed_history_is_simulated_so_and_calibrated_higher(settings: Settings) -> None:
    """The finished boosts' day-level overdispersion is estimated (all of them, good or bad), a Poisson
    history's as about 1; the simulation draws that much variation, so its threshold comes out higher."""
    poisson, noisy = _overdispersed_norms(settings, 1.0), _overdispersed_norms(settings, 3.0)
    for norms in (poisson, noisy):
        assert norms.fitted and norms.calibration is not None and norms.calibration.population is None
    assert poisson.calibration is not None and noisy.calibration is not None
    assert poisson.calibration.simulated is not None and noisy.calibration.simulated is not None
    assert noisy.calibration.simulated > poisson.calibration.simulated
    def grid(dispersion: float) -> series._Grid:
        hourly, results, _ = hs.world(seed=2, finished=40, day_dispersion=dispersion)
        return series._stacked(series._grids(hourly, results, T0, series.HOURLY_COUNTS))

    usable = np.ones(40, bool)
    assert simulate.delivery_variation(grid(3.0), usable, noisy, 20, 3.0)[0] > 1.5
    assert simulate.delivery_variation(grid(1.0), usable, poisson, 20, 3.0)[0] < 1.3
    # too few finished boosts to estimate it: the configured default
    assert simulate.delivery_variation(grid(3.0), usable, noisy, 41, 3.0)[0] == 3.0


def test_the_simulated_calibration_holds_the_pause_rate_on_overdispersed_boosts(settings: Settings) -> None:
    """New good boosts as overdispersed as the finished ones, looked at every hour for 96 hours under the
    rule simulated from those finished boosts: at most `pause_rate` of them are ever paused."""
    norms = _overdispersed_norms(settings, 3.0)
    rng = np.random.default_rng(43)
    uplifts = np.abs(rng.normal(0, 0.5, 100))
    rows = [hs.boost_rows(rng, f"L{i:03d}", T0, 96, float(u), float(rng.uniform(2, 8)), tail=False,
                          day_dispersion=3.0) for i, u in enumerate(uplifts)]
    boosts = pd.DataFrame({"post_id": [f"L{i:03d}" for i in range(len(uplifts))], "boosted_at": T0,
                           "advertiser_id": "a1"})
    first = _first_pauses(pd.concat(rows, ignore_index=True), boosts, norms, settings.monitor, range(6, 97))
    rate = settings.monitor.pause_rate
    assert np.isfinite(first).mean() <= rate + 2 * np.sqrt(rate * (1 - rate) / len(uplifts))
