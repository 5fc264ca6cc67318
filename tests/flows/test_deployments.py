"""The deployments `sparkpick serve` builds follow the config: schedules and timezone, the hourly monitor
only when it has a cron, the approval flow never on a schedule, and each one's concurrency strategy.
(Serving them: tests/flows/test_serve.py; prefect.yaml written from them: tests/flows/test_prefect_yaml.py;
the flows run: test_nightly, test_monitor, test_train, test_approval.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.deployments import build_deployments
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home


def test_deployments_follow_the_config(home: Home, settings: Settings) -> None:
    custom = with_overrides(settings, {"nightly": {"cron": "30 5 * * *", "timezone": "America/New_York"}})
    nightly, train, monitor, approval = build_deployments(home, custom, None)
    assert (nightly.name, train.name, monitor.name, approval.name) == ("nightly", "train", "monitor", "approval")
    assert not approval.schedules  # started by a night that has picks to offer, never on a schedule
    assert monitor.schedules[0].schedule.cron == custom.monitor.cron
    assert monitor.schedules[0].schedule.timezone == "America/New_York"
    no_monitor = with_overrides(custom, {"monitor": {"cron": ""}})
    assert [d.name for d in build_deployments(home, no_monitor, None)] == ["nightly", "train", "approval"]
    schedule = nightly.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("30 5 * * *", "America/New_York")
    assert train.schedules[0].schedule.cron == custom.nightly.train_cron
    assert nightly.parameters["home_dir"] == str(home.root)


def test_one_run_at_a_time_late_nights_queue_and_a_late_monitor_is_skipped(home: Home, settings: Settings) -> None:
    nightly, train, monitor, approval = build_deployments(home, settings, None)
    strategies = {d.name: (d.concurrency_limit, d.concurrency_options.collision_strategy.value)
                  for d in (nightly, train, monitor)}
    assert strategies == {"nightly": (1, "ENQUEUE"), "train": (1, "ENQUEUE"), "monitor": (1, "CANCEL_NEW")}
    assert approval.concurrency_limit is None  # one run per night's picks, each waiting for its own answer


def test_a_config_file_is_passed_on_as_an_absolute_path(home: Home, settings: Settings, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("report: {top_k: 3}\n")
    deployments = build_deployments(home, settings, Path("mine.yaml"))
    assert {d.parameters["config_file"] for d in deployments} == {str(tmp_path / "mine.yaml")}
    assert all(d.parameters == {} for d in build_deployments(None, settings))  # a worker's SPARKPICK_HOME
