"""The pause calibration replays the looks the monitor really makes: its deployment's cron, in the money
rule's watch window (models/monitor/schedule.py, calibration.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import monitor
from models.monitor.schedule import HOUR_NS, looked_hours
from sparkpick.config import MonitorSettings, Settings
from tests.models import hourly_synth as hs
from tests.models.test_monitor import T_NORMS, _ever_paused, _live, _population

HOUR = pd.Timedelta(hours=1)
SIX_HOURLY = "0 */6 * * *"


def _at(hours: np.ndarray | None) -> list[str]:
    assert hours is not None
    return [str(pd.Timestamp(int(h) * HOUR_NS)) for h in hours]


def test_looked_hours_follow_the_cron_in_its_timezone() -> None:
    winter = looked_hours("15 */6 * * *", "Europe/Amsterdam", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02"))
    assert _at(winter) == ["2026-01-01 05:00:00", "2026-01-01 11:00:00", "2026-01-01 17:00:00",
                           "2026-01-01 23:00:00"]  # 06:15 in Amsterdam sees the hours ended by 05:00 UTC
    summer = looked_hours("15 */6 * * *", "Europe/Amsterdam", pd.Timestamp("2026-07-01"), pd.Timestamp("2026-07-01 12:00"))
    assert _at(summer) == ["2026-07-01 04:00:00", "2026-07-01 10:00:00"]
    # Several runs an hour still look at each hour end once; no deployment means any hour.
    minutes = looked_hours("*/10 * * * *", "UTC", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-01 05:30"))
    assert len(_at(minutes)) == 6
    assert looked_hours("", "UTC", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02")) is None
    with pytest.raises(ValueError, match=r"monitor\.cron"):
        looked_hours("every hour", "UTC", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02"))


def _norms(config: MonitorSettings) -> monitor.DeliveryNorms:
    hourly, results, posts = hs.world(seed=1)
    return monitor.fit_delivery_norms(hourly, results, hs.baselines(), posts, T_NORMS, config)


@pytest.fixture(scope="module")
def six_hourly(settings: Settings) -> tuple[MonitorSettings, monitor.DeliveryNorms]:
    config = settings.monitor.model_copy(update={"cron": SIX_HOURLY})
    return config, _norms(config)


def test_fewer_looks_spend_the_budget_at_a_lower_threshold(settings: Settings,
                                                           six_hourly: tuple[MonitorSettings, monitor.DeliveryNorms]
                                                           ) -> None:
    """A monitor that looks less often, or watches fewer hours, has fewer chances to pause a good boost:
    replaying its own looks, the calibration pauses at a threshold no higher; with the count budget alone
    binding (no spend budget), strictly lower here."""
    hourly = _norms(settings.monitor).calibration
    short = _norms(settings.monitor.model_copy(update={"money_watch_hours": 48.0})).calibration
    six = six_hourly[1].calibration
    assert hourly is not None and short is not None and six is not None
    assert six.thresholds["a1"] <= hourly.thresholds["a1"] + 1e-6
    assert short.thresholds["a1"] <= hourly.thresholds["a1"] + 1e-6
    by_count = settings.monitor.model_copy(update={"pause_spend_rate": 0.99})
    every_hour = _norms(by_count).calibration
    every_six = _norms(by_count.model_copy(update={"cron": SIX_HOURLY})).calibration
    assert every_hour is not None and every_six is not None
    assert every_six.thresholds["a1"] < every_hour.thresholds["a1"]


def test_the_calibrated_pause_keeps_good_boosts_within_the_rate_on_a_six_hourly_deployment(
        six_hourly: tuple[MonitorSettings, monitor.DeliveryNorms]) -> None:
    """Deployed every 6 hours and calibrated on those looks, the money rule pauses at most `pause_rate` of
    new good boosts drawn like the finished ones (binomial noise allowed), and catches dear ones."""
    config, norms = six_hourly
    start = T_NORMS
    hourly, boosts, uplifts = _population(23, 160, start, 96)
    looks = [h for h in range(6, 97) if (start + h * HOUR).hour % 6 == 0]
    paused, _ = _ever_paused(hourly, boosts, norms, config, start, range(0))  # nothing looked at: nothing paused
    assert not paused.any()
    paused, _ = _ever_paused(hourly, boosts, norms, config, start, looks)  # type: ignore[arg-type]
    good, dear = uplifts > 0, uplifts < -np.log(1.5)
    rate = config.pause_rate
    assert paused[good].mean() <= rate + 2 * np.sqrt(rate * (1 - rate) / good.sum())
    assert paused[dear].mean() >= 0.3


def test_past_the_watch_window_only_proven_dearer_pauses(settings: Settings,
                                                         six_hourly: tuple[MonitorSettings, monitor.DeliveryNorms]
                                                         ) -> None:
    """After `money_watch_hours` the money rule stands down (its calibration never replayed those looks):
    a boost is paused only when proven dearer, and a kept one says so instead of a pause hint."""
    config, norms = six_hourly
    start = T_NORMS
    hourly, boosts = _live(41, [np.log(1 / 1.4)] * 8 + [0.0] * 4, start, 130, 6.0)
    t = start + 120 * HOUR
    inside = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t,
                                   config.model_copy(update={"money_watch_hours": 200.0}), 0.8)
    past = monitor.assess_boosts(hourly, boosts, hs.baselines(), norms, t, config, 0.8)
    assert (inside["decision"] == "pause").sum() > (past["decision"] == "pause").sum()
    assert np.isinf(past["pause_threshold"]).all()
    proven = past["e_pause"] >= 1 / (1 - config.pause_confidence)
    assert ((past["decision"] == "pause") == proven).all()
    kept = past[past["decision"] == "keep"]
    assert len(kept) and kept["reason"].str.contains("past its first 4 days, it pauses only when proven more expensive").all()
