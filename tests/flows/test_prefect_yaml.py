"""prefect.yaml is written from the deployments `sparkpick serve` builds: the committed file is what the
writer makes from the defaults, Prefect's own `prefect deploy` reads it, and it follows a user's schedules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.cli.deploy._models import PrefectYamlModel

from flows.deployments import build_deployments
from flows.prefect_yaml import main, prefect_yaml
from sparkpick.config import Settings, with_overrides

REPO = Path(__file__).resolve().parents[2]
REWRITE = "rewrite it with `python -m flows.prefect_yaml > prefect.yaml`"


def _without_version(text: str) -> str:
    """The file's text without its `prefect-version` line (the Prefect installed where it was written)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("prefect-version:"))


def test_the_committed_prefect_yaml_is_what_the_deployments_write(settings: Settings) -> None:
    committed = (REPO / "prefect.yaml").read_text(encoding="utf-8")
    assert _without_version(committed) == _without_version(prefect_yaml(settings)), (
        f"prefect.yaml differs from flows/deployments.py and configs/default.yaml: {REWRITE}")


def test_prefect_reads_it_with_each_deployments_schedule_and_concurrency(settings: Settings) -> None:
    spec = PrefectYamlModel.model_validate(yaml.safe_load(prefect_yaml(settings)))
    by_name = {d.name: d for d in spec.deployments}
    served = {d.name: d for d in build_deployments(None, settings)}
    assert set(by_name) == set(served) == {"nightly", "train", "monitor", "approval"}
    assert by_name["nightly"].schedules[0].cron == settings.nightly.cron
    assert by_name["train"].schedules[0].cron == settings.nightly.train_cron
    assert by_name["monitor"].schedules[0].cron == settings.monitor.cron
    assert {d.schedules[0].timezone for d in by_name.values() if d.schedules} == {settings.nightly.timezone}
    assert not by_name["approval"].schedules  # started by a night with picks to approve, never on a schedule
    # A late monitor run is skipped, not queued behind the next hour's: the strategy serve sets.
    raw = {d["name"]: d for d in yaml.safe_load(prefect_yaml(settings))["deployments"]}
    assert raw["monitor"]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert raw["nightly"]["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    for name, entry in raw.items():
        assert entry["parameters"] == {}  # a worker's SPARKPICK_HOME names the home
        assert entry["description"] == served[name].description
        module, func = entry["entrypoint"].split(":")
        assert callable(getattr(__import__(module.removesuffix(".py").replace("/", "."), fromlist=[func]), func))


def test_it_follows_the_schedules_of_a_users_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(yaml.safe_dump({"nightly": {"cron": "30 5 * * *", "timezone": "America/New_York"},
                                       "monitor": {"cron": ""}}), encoding="utf-8")
    assert main(["--config", str(overlay)]) == 0
    raw = {d["name"]: d for d in yaml.safe_load(capsys.readouterr().out)["deployments"]}
    assert set(raw) == {"nightly", "train", "approval"}  # no monitor cron: no monitor deployment
    assert raw["nightly"]["schedules"] == [{"cron": "30 5 * * *", "timezone": "America/New_York", "active": True}]


def test_a_hand_edited_file_is_caught(settings: Settings) -> None:
    edited = with_overrides(settings, {"monitor": {"cron": "0 * * * *"}})
    assert _without_version(prefect_yaml(edited)) != _without_version(prefect_yaml(settings))
