"""When a live boost ends without its result row, how long it was live, its hour grid, and its words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import monitor
from models.monitor import decide, evidence, series
from sparkpick.config import Settings
from tests.models import hourly_synth as hs

HOUR = pd.Timedelta(hours=1)
START = hs.START + pd.Timedelta(days=40)


def _boost(post_id: str, boosted_at: pd.Timestamp, hours: int, spend: float = 5.0) -> pd.DataFrame:
    rng = np.random.default_rng(len(post_id) + hours)
    return hs.boost_rows(rng, post_id, boosted_at, hours, 0.0, spend, tail=False)


def _no_results() -> pd.DataFrame:
    return pd.DataFrame({"post_id": pd.Series(dtype=str), "boosted_at": pd.Series(dtype="datetime64[us]"),
                         "ended_at": pd.Series(dtype="datetime64[us]")})


def test_a_boost_that_stopped_delivering_is_over_even_without_its_result_row(settings: Settings) -> None:
    # "S" delivered 24 hours, then nothing: without a result row it stayed live forever ("2659 h in").
    hourly = pd.concat([_boost("S", START, 24), _boost("R", START, 24 * 10)], ignore_index=True)
    idle = settings.monitor.ended_after_idle_hours
    soon = START + (24 + idle - 1) * HOUR
    live = monitor.live_boosts(hourly, _no_results(), soon, idle)
    assert sorted(live["post_id"]) == ["R", "S"]
    assert live.set_index("post_id").loc["S", "delivered_until"] == START + 24 * HOUR
    later = monitor.live_boosts(hourly, _no_results(), START + (24 + idle + 1) * HOUR, idle)
    assert later["post_id"].tolist() == ["R"]
    # Without the setting (other callers), the old reading holds: rows and no result row is live.
    assert sorted(monitor.live_boosts(hourly, _no_results(), START + 200 * HOUR)["post_id"]) == ["R", "S"]


def test_hours_live_stop_at_the_last_delivered_hour(settings: Settings) -> None:
    hourly = _boost("S", START, 24)
    boosts = monitor.live_boosts(hourly, _no_results(), START + 40 * HOUR, settings.monitor.ended_after_idle_hours)
    boosts = boosts.assign(advertiser_id="a1")
    norms = monitor.fit_delivery_norms(hourly.iloc[:0], _no_results(), hs.baselines(), boosts, START,
                                       settings.monitor)
    out = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, START + 40 * HOUR, settings.monitor, 0.8)
    assert out.loc[0, "hours_live"] == pytest.approx(24.0)  # not 40: nothing was delivered after hour 24
    assert out.loc[0, "reason"].startswith("24 h in,")


def test_one_pending_conversion_is_singular_and_costs_read_as_english() -> None:
    from sparkpick.wording import LiveFacts, live_reason

    facts = LiveFacts(decision="keep", why="keep", hours=30.0, spend=40.0, conversions=2, baseline_cpa=20.0,
                      pending=1.0, estimate=0.0, low=-0.5, high=0.5, prob_dearer=0.5, calibration="x")
    reason = live_reason(facts)
    assert "about 1 conversion from this spend is usually reported later" in reason, reason
    assert "about as dear than" not in reason and "about your in-feed cost so far" in reason, reason
    many = live_reason(LiveFacts(**{**facts.__dict__, "pending": 3.0}))
    assert "about 3 conversions from this spend are usually reported later" in many, many


def test_each_boost_gets_a_grid_as_wide_as_its_own_hours(settings: Settings) -> None:
    # A boost dated years before its hours (stored before the contract refused it) made every live boost's
    # hour grid years wide: 3.3 GB for 7 boosts.
    t = START + 48 * HOUR
    short = pd.concat([_boost(f"S{i}", START, 48) for i in range(3)], ignore_index=True)
    old = _boost("OLD", START, 48).assign(boosted_at=START - pd.Timedelta(days=3650))
    hourly = pd.concat([short, old], ignore_index=True)
    keys = monitor.live_boosts(hourly, _no_results(), t)
    grids = series._grids(hourly, keys, t, monitor.HOURLY_COUNTS)
    widths = {p: g.values["spend"].shape[1] for g in grids for p in g.keys["post_id"]}
    assert widths["S0"] == widths["S1"] == widths["S2"] == 48
    assert widths["OLD"] > 24 * 3650
    assert sum(g.values["spend"].size for g in grids) < 2 * (3 * 48 + widths["OLD"])
    # and a boost's figures do not depend on which other boosts are watched with it
    boosts = keys.assign(advertiser_id="a1")
    norms = monitor.fit_delivery_norms(hourly.iloc[:0], _no_results(), hs.baselines(), boosts, START,
                                       settings.monitor)
    together = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t, settings.monitor, 0.8)
    alone = monitor.assess_boosts(short, boosts[boosts["post_id"] != "OLD"], hs.baselines(), norms, t,
                                  settings.monitor, 0.8)
    assert together["post_id"].tolist() == boosts["post_id"].tolist()  # the input's order
    pd.testing.assert_frame_equal(together[together["post_id"] != "OLD"].reset_index(drop=True), alone)


def test_the_keep_hint_bisection_finds_what_trying_every_count_finds(settings: Settings) -> None:
    rng = np.random.default_rng(3)
    n, width = 40, 60
    spend_h = rng.gamma(2.0, 3.0, (n, width))
    last = np.full(n, width - 1)
    conv = rng.poisson(4.0, n).astype(float)
    rate0 = np.full(n, 1 / 20.0)
    norms = monitor.DeliveryNorms(as_of=START, lag_kernel=hs.lag_kernel(), learning=np.ones(4),
                                  learning_edges=(0, 12, 24, 48, 72), boosts=30, fitted=True)
    statistic = np.full(n, -np.inf)  # none paused already
    lp_base = evidence._normal_logpdf(monitor.U_COARSE[None, :], np.zeros((n, 1)), np.ones((n, 1)))
    pace = spend_h[:, -24:].mean(axis=1)
    stake = pace * settings.monitor.stake_hours
    threshold = rng.uniform(0.0, 2.0, n)
    spend, hint = decide._keep_hints(spend_h, last, conv, statistic, lp_base, rate0, pace, stake, threshold, norms,
                                      settings.monitor)
    assert (hint >= 0).sum() > 5  # some boosts get a hint
    for i in np.flatnonzero(hint >= 0):
        # Every count up to the hint still pauses and the next one does not (or the hint is the cap).
        cdf = np.cumsum(norms.lag_kernel)
        h = int(np.ceil(spend[i] / pace[i] - 1e-9))
        ages = np.arange(width)
        old = (spend_h[i] * cdf[np.clip(last[i] - ages + h, 0, len(cdf) - 1)]).sum()
        j = np.arange(int(np.ceil(settings.monitor.stake_hours)))
        new = (pace[i] * cdf[np.clip(h - 1 - j, 0, len(cdf) - 1)] * (j < h)).sum()
        counts = np.arange(monitor.HINT_MAX_CONVERSIONS + 1)
        lp = lp_base[i] + (conv[i] + counts[:, None]) * monitor.U_COARSE - rate0[i] * (old + new) * np.exp(
            monitor.U_COARSE)
        paused = evidence._money_statistic(*evidence._money_terms(lp)) > threshold[i]
        expected_hint = monitor.HINT_MAX_CONVERSIONS if paused.all() else int(np.argmin(paused)) - 1
        assert hint[i] == expected_hint, i
