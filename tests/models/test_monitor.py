"""The live-boost monitor on simulated delivery whose truth is known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models import monitor
from models.monitor import calibration
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
                 config: MonitorSettings, start: pd.Timestamp, looks: range, proven: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Whether each boost was paused at some hourly look, and the first look (hours) it was; with `proven`,
    whether the anytime-valid test proved it dearer instead (the reason's "proven dearer")."""
    first = np.full(len(boosts), np.inf)
    for h in looks:
        out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + h * HOUR, config, 0.8)
        out = out.set_index("post_id").loc[boosts["post_id"]]
        if proven:
            paused = (out["decision"] != "too_early").to_numpy() & (
                out["e_pause"].to_numpy() >= 1 / (1 - config.pause_confidence))
        else:
            paused = out["decision"].to_numpy() == "pause"
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
    assert n1.calibration is not None and n1.calibration == n2.calibration  # the pause calibration too


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
    assert (out["decision"] == "pause").mean() <= 0.1  # at most the odd one, within the false-pause budget
    flat = monitor.DeliveryNorms(as_of=norms.as_of, lag_kernel=np.array([1.0]), learning=np.ones(4),
                                 learning_edges=norms.learning_edges, boosts=0, fitted=False,
                                 priors=norms.priors, pooled_prior=norms.pooled_prior)
    naive = monitor.assess_boosts(hourly, boosts, hs.baselines(), flat, t, settings.monitor, 0.8)
    assert naive["estimated_uplift"].median() < out["estimated_uplift"].median() - 0.2


def _false_pause_check(norms: monitor.DeliveryNorms, config: MonitorSettings, at_par: int, cheaper: int,
                       seed: int) -> None:
    start = T_NORMS
    hourly, boosts = _live(seed, [0.0] * at_par + [0.3] * cheaper, start, 96, 8.0)
    paused, _ = _ever_paused(hourly, boosts, norms, config, start, range(6, 97), proven=True)
    alpha = 1 - config.pause_confidence
    assert paused[:at_par].mean() <= alpha + 2 * np.sqrt(alpha * (1 - alpha) / at_par)
    assert paused[at_par:].mean() <= alpha / 2


def test_proven_dearer_stays_below_alpha_under_hourly_looks(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """"Proven dearer" is anytime-valid: boosts exactly as good as in-feed ads (the hardest honest case) and
    cheaper ones, looked at every hour for 96 hours, are proven dearer at most at alpha (plus binomial noise)."""
    _false_pause_check(norms, settings.monitor, at_par=60, cheaper=20, seed=6)


@pytest.mark.slow
def test_proven_dearer_stays_below_alpha_on_many_boosts(norms: monitor.DeliveryNorms, settings: Settings) -> None:
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
    # What the decision is worth, in the advertiser's currency and the one convention for ratios.
    assert "pausing now saves about $" in out.loc[1, "reason"] and "x your in-feed cost" in out.loc[1, "reason"]
    assert out.loc[1, "keep_cost"] > out.loc[1, "stop_cost"] and out.loc[1, "stake"] > 0
    # Amounts are in the advertiser's currency; with none known, a bare number rather than a wrong "$".
    for advertisers, shown in ((usd.assign(currency="JPY"), " JPY"), (usd.assign(currency="EUR"), "€"), (None, "")):
        other = monitor.monitor_boosts(pd.concat([hourly, live_rows]), results, hs.baselines(), posts,
                                       start + 80 * HOUR, settings, predictions=predictions, advertisers=advertisers)
        assert list(other["decision"]) == list(out["decision"])
        assert "$" not in other.loc[1, "reason"] and shown in other.loc[1, "reason"]


def _population(seed: int, n: int, start: pd.Timestamp, hours: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Live boosts drawn like the finished ones of hs.world: settled uplifts N(0, 0.5), 2-8 a hour."""
    rng = np.random.default_rng(seed)
    uplifts = rng.normal(0, 0.5, n)
    rows = [hs.boost_rows(rng, f"L{i:03d}", start, hours, float(u), float(rng.uniform(2, 8)), tail=False)
            for i, u in enumerate(uplifts)]
    boosts = pd.DataFrame({"post_id": [f"L{i:03d}" for i in range(n)], "boosted_at": start, "advertiser_id": "a1"})
    return pd.concat(rows, ignore_index=True), boosts, uplifts


def _calibrated_false_pauses(norms: monitor.DeliveryNorms, settings: Settings, n: int, seed: int) -> None:
    start = T_NORMS
    hourly, boosts, uplifts = _population(seed, n, start, 96)
    assert norms.calibration is not None and "a1" in norms.calibration.thresholds
    paused, _ = _ever_paused(hourly, boosts, norms, settings.monitor, start, range(6, 97))
    good, dear = uplifts > 0, uplifts < -np.log(1.5)
    rate = settings.monitor.pause_rate
    assert paused[good].mean() <= rate + 2 * np.sqrt(rate * (1 - rate) / good.sum())
    assert paused[dear].mean() >= 0.3  # and it does catch dear boosts


def test_the_calibrated_pause_keeps_good_boosts_within_the_pause_rate(norms: monitor.DeliveryNorms,
                                                                     settings: Settings) -> None:
    """Calibrated by replaying the finished boosts hour by hour, the money rule pauses at most
    `monitor.pause_rate` of new good boosts (cheaper than in-feed) drawn like them, looked at every hour for
    96 hours (binomial noise allowed)."""
    _calibrated_false_pauses(norms, settings, n=120, seed=21)


@pytest.mark.slow
def test_the_calibrated_pause_keeps_good_boosts_within_the_pause_rate_on_many(norms: monitor.DeliveryNorms,
                                                                             settings: Settings) -> None:
    _calibrated_false_pauses(norms, settings, n=500, seed=22)


def test_calibration_replays_finished_boosts_only_and_falls_back_to_the_population(
        norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """An advertiser without finished boosts is judged on all advertisers' calibration and the reason says so;
    with too few finished boosts anywhere, only proven-dearer boosts are paused, and the reason says that."""
    start = T_NORMS
    hourly, boosts = _live(31, [np.log(1 / 3)] * 3 + [0.0] * 3, start, 60, 8.0)
    boosts["advertiser_id"] = "a9"
    baselines = pd.concat([hs.baselines(), hs.baselines().assign(advertiser_id="a9")], ignore_index=True)
    out = monitor.assess_boosts(hourly, boosts, baselines, norms, start + 60 * HOUR, settings.monitor, 0.8)
    assert norms.calibration is not None and norms.calibration.population is not None
    assert (out["pause_threshold"] == norms.calibration.population).all()
    judged = out[out["decision"].isin(["pause", "keep"])]
    assert len(judged) == len(out)
    assert judged["reason"].str.contains("all advertisers'").all()
    assert judged["reason"].str.contains("this advertiser has none").all()
    assert (out["decision"].iloc[:3] == "pause").all()
    none = replace(norms, calibration=monitor.PauseCalibration(0.05, {}, {}, None, 0.0))
    bare = monitor.assess_boosts(hourly, boosts, baselines, none, start + 60 * HOUR, settings.monitor, 0.8)
    assert bare["reason"].str.contains("too few finished boosts to calibrate a pause rule on").all()
    proven = bare["e_pause"] >= 1 / (1 - settings.monitor.pause_confidence)
    assert ((bare["decision"] == "pause") == proven).all()


def test_odd_hours_give_reasons_not_crashes(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """Spend without impressions (some hours, or all), a day without a conversion reported, and a code that
    expired mid-flight: each is said in the reason; none stops the others."""
    start = T_NORMS
    hourly, boosts = _live(41, [0.0, 0.0, np.log(3.0), 0.0], start, 80, 8.0)
    quiet = (hourly["post_id"] == "L000") & hourly["hour_start"].between(start + 20 * HOUR, start + 22 * HOUR)
    hourly.loc[quiet, ["impressions", "views_2s", "views_6s", "clicks", "likes"]] = 0
    hourly.loc[(hourly["post_id"] == "L001") & (hourly["hour_start"] >= start + 56 * HOUR), "conversions"] = 0
    hourly.loc[hourly["post_id"] == "L003", ["impressions", "views_2s", "views_6s", "clicks", "likes"]] = 0
    boosts["spark_auth_expires_at"] = [pd.NaT, pd.NaT, start + 70 * HOUR, pd.NaT]
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + 80 * HOUR, settings.monitor, 0.8)
    reason = out.set_index("post_id")["reason"]
    assert "3 hours with spend but no impressions reported yet" in reason["L000"]
    assert "no conversion reported in the last 24 h" in reason["L001"]
    assert "authorisation code expired" in reason["L002"] and out.loc[2, "decision"] != "scale"
    assert "80 hours with spend but no impressions" in reason["L003"]
    assert out["decision"].isin(monitor.DECISIONS).all()


def test_scale_only_after_learning_and_in_tolerated_steps(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """A clearly cheaper boost gets more budget only once the learning phase is over, by `scale_step` of the
    last day's spend (the proposed budget in the table for whoever carries it out)."""
    start = T_NORMS
    hourly, boosts = _live(51, [np.log(3.0)] * 6, start, 100, 8.0)
    early = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, start + 60 * HOUR, settings.monitor, 0.8)
    assert (early["decision"] != "scale").all() and (early["budget_step"] == 0).all()
    assert early["reason"].str.contains("more budget only after the learning phase").any()
    t = start + 100 * HOUR
    late = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    scaled = late[late["decision"] == "scale"]
    assert len(scaled) >= 4
    assert (scaled["budget_step"] == settings.monitor.scale_step).all()
    day = hourly[(hourly["hour_start"] + HOUR <= t) & (hourly["hour_start"] + HOUR > t - 24 * HOUR)]
    last_day = day.groupby("post_id")["spend"].sum()
    expected = last_day.loc[scaled["post_id"]].to_numpy() * (1 + settings.monitor.scale_step)
    np.testing.assert_allclose(scaled["proposed_daily_budget"].to_numpy(), expected, rtol=1e-3)
    assert scaled["reason"].str.contains("add budget, 20% more a day").all()
    assert late.loc[late["decision"] != "scale", "proposed_daily_budget"].isna().all()


def test_a_keep_says_what_would_pause_it(norms: monitor.DeliveryNorms, settings: Settings) -> None:
    """A kept boost's reason names the spend and the conversions that would pause it; spending that much at
    its pace with no conversion then does pause it."""
    start = T_NORMS
    hourly, boosts = _live(61, [0.0] * 12, start, 40, 8.0)
    t = start + 40 * HOUR
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    kept = out[out["decision"] == "keep"]
    hinted = kept[kept["reason"].str.contains("pause if the next")]
    assert len(hinted) >= len(kept) // 2
    row = hinted.iloc[0]
    amount = float(row["reason"].split("pause if the next ")[1].split(" ")[0].lstrip("$").replace(",", ""))
    mine = hourly[(hourly["post_id"] == row["post_id"]) & (hourly["hour_start"] + HOUR <= t)]
    pace = mine.loc[mine["hour_start"] + HOUR > t - 24 * HOUR, "spend"].sum() / 24
    hours = int(np.ceil(amount / pace))
    more = pd.DataFrame({"post_id": row["post_id"], "boosted_at": start, "hour_start": t + np.arange(hours) * HOUR,
                         "spend": pace, "impressions": 0, "views_2s": 0, "views_6s": 0, "likes": 0, "comments": 0,
                         "shares": 0, "clicks": 0, "conversions": 0})
    then = monitor.assess_boosts(pd.concat([mine, more], ignore_index=True), boosts[boosts["post_id"] == row["post_id"]],
                                 hs.baselines(), norms, t + hours * HOUR, settings.monitor, 0.8)
    assert then["decision"].iat[0] == "pause"


def test_the_pause_threshold_spends_the_budget_and_no_more() -> None:
    """20 good boosts whose largest statistics are 1..20: at a 10% budget the two largest may be paused, so
    the threshold is the third largest; a spend budget can push it higher, never below 0."""
    stats = np.full((20, 3), -np.inf)
    stats[:, 1] = np.arange(1.0, 21.0)
    good = np.ones(20)
    remaining = np.tile([30.0, 20.0, 10.0], (20, 1))
    assert calibration._pause_threshold(stats, good, remaining, 0.1, 1.0) == 18.0
    # pausing the two at look 1 stops 2 x 20 of 20 x 30 spend: 6.7%; a 5% spend budget allows only one
    assert calibration._pause_threshold(stats, good, remaining, 0.1, 0.05) == pytest.approx(19.0, abs=1e-6)
    # half-good boosts weigh half: three of them (1.5 of 18) fit in the 10% budget, a fourth would not
    assert calibration._pause_threshold(stats, np.r_[np.ones(16), np.full(4, 0.5)], remaining, 0.1, 1.0) == 17.0
    assert calibration._pause_threshold(np.where(np.isfinite(stats), -stats, -np.inf), good, remaining, 0.1, 1.0) == 0.0
