"""A home remembers what it was fed from: a night gathers from that source, and no ingest mixes another
source (above all the demo world) into it unless asked to (`--allow-new-source`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flows.ingest import choose_source, ingest_source
from flows.invocation import resolve
from sparkpick.config import Settings, with_overrides
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.warehouse import HOME_SOURCE, Warehouse
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


def _run(home: Home, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API") and k != "SPARKPICK_HOME"}
    env.update({"PYTHONPATH": str(REPO), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "300"})
    return subprocess.run([SPARKPICK, "--home", str(home.root), *args], capture_output=True, text=True,
                          timeout=900, env=env, cwd=cwd or home.root, check=False)


def _posts(home: Home) -> set[str]:
    with Warehouse(home.warehouse, read_only=True) as wh:
        return set(wh.read("posts")["post_id"])


def _recorded(home: Home) -> str | None:
    with Warehouse(home.warehouse, read_only=True) as wh:
        return wh.recorded_source()


def _fingerprint(home: Home) -> str:
    with Warehouse(home.warehouse, read_only=True) as wh:
        return wh.fingerprint()


def test_the_first_ingest_records_the_normalised_source_and_a_rerun_is_fine(
    home: Home, settings: Settings, tiny_world: Path, tmp_path: Path
) -> None:
    ingest_source(home, settings, f"local:{tiny_world}")
    assert _recorded(home) == f"local:{tiny_world.resolve()}"
    before = _fingerprint(home)
    # The same folder, named another way, is the same source: nothing changes, not even the record.
    relative = os.path.relpath(tiny_world, Path.cwd())
    summary = ingest_source(home, settings, f"local:{relative}")
    assert summary.new_rows == 0
    assert _fingerprint(home) == before
    with Warehouse(home.warehouse, read_only=True) as wh:
        assert wh.count(HOME_SOURCE) == 1


def test_a_night_without_a_config_gathers_from_the_home_source(home: Home, tiny_world: Path) -> None:
    done = _run(home, "ingest", "--source", f"local:{tiny_world}")
    assert done.returncode == 0, done.stdout + done.stderr
    posts = _posts(home)
    # No config: ingest.source defaults to demo, but this home was fed from the folder.
    night = _run(home, "nightly", "--no-prefect")
    out = night.stdout + night.stderr
    assert f"local:{tiny_world.resolve()}" in out, out[-3000:]
    assert _posts(home) == posts, "the night added posts from another source"
    assert _recorded(home) == f"local:{tiny_world.resolve()}"
    assert not (home.cache / "demo-world").exists()


def test_the_demo_into_a_home_fed_from_a_folder_is_refused_and_changes_nothing(
    home: Home, settings: Settings, tiny_world: Path
) -> None:
    ingest_source(home, settings, f"local:{tiny_world}")
    before = _fingerprint(home)
    done = _run(home, "ingest", "--source", "demo")
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 2, out[-3000:]
    assert f"fed from local:{tiny_world.resolve()}" in out, out
    assert "demo" in out and "--allow-new-source" in out, out
    assert _fingerprint(home) == before
    assert not (home.cache / "demo-world").exists(), "the demo world was built before refusing"
    # A night whose config names the demo is refused before it starts, with the same exit status.
    config = home.root / "demo.yaml"
    config.write_text(yaml.safe_dump({"ingest": {"source": "demo"}}))
    done = _run(home, "--config", str(config), "nightly", "--no-prefect")
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 2 and "--allow-new-source" in out, out[-3000:]
    assert _fingerprint(home) == before
    # `sparkpick demo` is refused the same way, before rendering anything.
    done = _run(home, "demo", "--size", "tiny")
    assert done.returncode == 2, (done.stdout + done.stderr)[-3000:]
    assert _fingerprint(home) == before


def test_allow_new_source_adds_the_source_and_the_home_is_then_fed_from_it(
    home: Home, settings: Settings, tiny_world: Path, tmp_path: Path
) -> None:
    ingest_source(home, settings, f"local:{tiny_world}")
    other = tmp_path / "other"
    shutil.copytree(tiny_world, other)
    with pytest.raises(InputError, match="--allow-new-source"):
        ingest_source(home, settings, f"local:{other}")
    assert _recorded(home) == f"local:{tiny_world.resolve()}"
    done = _run(home, "ingest", "--source", f"local:{other}", "--allow-new-source")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert _recorded(home) == f"local:{other.resolve()}"


def test_a_warehouse_from_before_the_record_is_adopted_only_by_a_named_source(
    home: Home, settings: Settings, tiny_world: Path
) -> None:
    ingest_source(home, settings, f"local:{tiny_world}")
    with Warehouse(home.warehouse) as wh:
        wh.con.execute(f'DROP TABLE "{HOME_SOURCE}"')  # as written before homes remembered their source
    with pytest.raises(InputError, match="Name the source"):
        choose_source(home, settings, None)
    done = _run(home, "ingest")
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 2 and "Name the source" in out, out[-3000:]
    assert _recorded(home) is None
    assert choose_source(home, settings, f"local:{tiny_world}").named
    done = _run(home, "ingest", "--source", f"local:{tiny_world}")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert _recorded(home) == f"local:{tiny_world.resolve()}"
    assert choose_source(home, settings, None).source == f"local:{tiny_world.resolve()}"


def test_a_source_named_in_the_config_overlay_is_explicit(tmp_path: Path, tiny_world: Path) -> None:
    named = tmp_path / "named.yaml"
    named.write_text(yaml.safe_dump({"ingest": {"source": "demo"}}))
    silent = tmp_path / "silent.yaml"
    silent.write_text(yaml.safe_dump({"nightly": {"retries": 0}}))
    assert resolve(tmp_path / "home", named).named_source == "demo"
    assert resolve(tmp_path / "home", silent).named_source is None
    assert resolve(tmp_path / "home").named_source is None
    # A new home with nothing named starts from ingest.source.
    home = Home.at(tmp_path / "home").ensure()
    assert choose_source(home, resolve(tmp_path / "home").settings, None).source == "demo"


def test_the_readme_tells_about_the_remembered_source() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    cli_rows = [line for line in readme.splitlines() if line.startswith("| `sparkpick ingest")]
    assert cli_rows and "--allow-new-source" in cli_rows[0]
    home_section = readme.split("## The home folder", 1)[1].split("\n## ", 1)[0]
    assert HOME_SOURCE in home_section and "--allow-new-source" in home_section



def _demo_home(home: Home, settings: Settings, tiny_world: Path) -> dict[str, object]:
    """A home fed from the demo world (the tiny one, as `sparkpick demo --size tiny` leaves it)."""
    from flows.ingest import ingest_folder
    from sparkpick.sources.demo.source import DEMO_WORLD_DIR, DEMO_WORLD_MARKER

    built = {"seed": settings.world.seed, "size": "tiny"}
    world = home.cache / DEMO_WORLD_DIR
    shutil.copytree(tiny_world, world)
    (world / DEMO_WORLD_MARKER).write_text(json.dumps(built))
    ingest_folder(home, settings, world, source="demo", detail=built)
    return built


def test_a_demo_world_of_another_seed_or_size_is_refused_and_changes_nothing(
    home: Home, settings: Settings, tiny_world: Path
) -> None:
    from sparkpick.sources.demo.source import DEMO_WORLD_DIR, DEMO_WORLD_MARKER

    built = _demo_home(home, settings, tiny_world)
    seed = settings.world.seed
    before = _fingerprint(home)
    marker = home.cache / DEMO_WORLD_DIR / DEMO_WORLD_MARKER
    # The same world again (a night: no size given, the home's own world) is fine and adds nothing.
    assert ingest_source(home, settings, "demo").new_rows == 0
    assert _fingerprint(home) == before
    # Another seed (a config overlay) would mix two worlds' posts: refused before the world is built.
    other_seed = with_overrides(settings, {"world": {"seed": seed + 1}})
    with pytest.raises(InputError) as refused:
        ingest_source(home, other_seed, "demo")
    message = re.sub(r"\s+", " ", str(refused.value))
    assert f"seed {seed}, size tiny" in message and f"seed {seed + 1}" in message, message
    assert "--allow-new-source" in message and "--home" in message, message
    assert _fingerprint(home) == before and json.loads(marker.read_text()) == built
    # The same through the CLI: a night whose overlay changes the seed exits 2 and writes nothing.
    config = home.root / "seed.yaml"
    config.write_text(yaml.safe_dump({"world": {"seed": seed + 1}}))
    done = _run(home, "--config", str(config), "nightly", "--no-prefect")
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 2 and f"seed {seed + 1}" in out and "--allow-new-source" in out, out[-3000:]
    assert _fingerprint(home) == before and json.loads(marker.read_text()) == built
    # Another size of the same seed is another world too: `sparkpick demo --size small` is refused at once.
    done = _run(home, "demo", "--size", "small")
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode == 2 and f"seed {seed}, size small" in out, out[-3000:]
    assert _fingerprint(home) == before and json.loads(marker.read_text()) == built


def test_a_night_rebuilds_the_homes_own_demo_world_when_its_cache_is_gone(
    home: Home, settings: Settings, tiny_world: Path
) -> None:
    """With no size given, a night uses the world the home was fed from (not the default size)."""
    from sparkpick.sources.demo.source import DEMO_WORLD_DIR, demo_world_wanted

    built = _demo_home(home, settings, tiny_world)
    shutil.rmtree(home.cache / DEMO_WORLD_DIR)
    assert demo_world_wanted(home, settings) == built
    assert demo_world_wanted(home, settings, "small") == {"seed": settings.world.seed, "size": "small"}


def test_allowing_another_demo_world_records_its_seed(home: Home, settings: Settings, tiny_world: Path) -> None:
    _demo_home(home, settings, tiny_world)
    other = {"seed": settings.world.seed + 1, "size": "tiny"}
    with Warehouse(home.warehouse) as wh:
        wh.upsert({}, source=("demo", json.dumps(other, sort_keys=True)))
        assert json.loads(wh.recorded_detail() or "{}") == other
