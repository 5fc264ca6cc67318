"""The source registry: every source meets the `Source` interface, an unknown name fails loudly, and a new
source is one class plus one registry line (a toy source goes through the real ingest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.ingest import ingest_source
from flows.unchanged import source_state
from sparkpick.config import Settings, with_overrides
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources import registry
from sparkpick.sources.base import Batch, GatherRequest, Source, home_source
from sparkpick.sources.demo.source import DEMO_WORLD_DIR, DemoSource
from sparkpick.sources.local import LocalSource, read_table_file
from sparkpick.sources.registry import SOURCES, find_source, known_sources, source_for
from sparkpick.sources.tiktok.source import TikTokSource
from sparkpick.warehouse import Warehouse
from tests.sparkpick.contract_folder import replace_line, write_folder


def _spec(source: Source, tmp_path: Path) -> str:
    return f"{source.name}:{tmp_path}" if source.argument else source.name


def test_the_known_sources_are_the_three_of_the_readme() -> None:
    assert known_sources() == ["demo", "local:DIR", "tiktok"]
    assert isinstance(source_for("demo"), DemoSource)
    assert isinstance(source_for("local:/data"), LocalSource)
    assert isinstance(source_for("tiktok"), TikTokSource)


@pytest.mark.parametrize("spec", ["nope", "local", "local:", "local: ", "demo:7", "tiktok:x", "", "Demo"])
def test_an_unknown_source_fails_naming_the_setting_and_the_known_ones(spec: str) -> None:
    assert find_source(spec) is None
    with pytest.raises(InputError) as err:
        source_for(spec)
    text = str(err.value)
    assert repr(spec) in text and "ingest.source" in text and "--source" in text
    assert "demo, local:DIR, tiktok" in text


def test_an_unknown_source_is_refused_by_the_ingest(home: Home, settings: Settings) -> None:
    with pytest.raises(InputError, match="known sources are demo, local:DIR, tiktok"):
        ingest_source(home, settings, "ftp:/somewhere")
    assert not home.warehouse.exists() or not home_source(home).has_data


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_source_meets_the_interface(name: str, tmp_path: Path, home: Home, settings: Settings) -> None:
    source = SOURCES[name]
    spec = _spec(source, tmp_path)
    assert isinstance(source, Source) and source.name == name
    assert find_source(spec) is source
    assert type(source).gather is not Source.gather, "a source must say how it gathers"
    recorded = source.recorded(spec)
    assert source.recorded(recorded) == recorded and find_source(recorded) is source
    identity = source.identity(home, settings, recorded)
    assert set(source.identity_keys) <= set(identity)
    json.dumps(identity)  # recorded in the warehouse as JSON
    assert settings.tiktok.token_env not in json.dumps(identity)
    folder = source.state_folder(home, recorded)
    assert folder is None or isinstance(folder, Path)
    assert source.describe(recorded, identity).startswith(name)


def test_what_each_source_says_of_itself(tmp_path: Path, home: Home, settings: Settings) -> None:
    local, demo, tiktok = SOURCES["local"], SOURCES["demo"], SOURCES["tiktok"]
    assert local.recorded(f"local:{tmp_path}/x/..") == f"local:{tmp_path.resolve()}"
    assert local.state_folder(home, f"local:{tmp_path}") == tmp_path
    assert demo.state_folder(home, "demo") == home.cache / DEMO_WORLD_DIR
    assert demo.describe("demo", {"seed": 7, "size": "small"}) == "demo (world seed 7, size small)"
    assert demo.default_as_of(settings) is not None and local.default_as_of(settings) is None
    assert not demo.links_posts and local.links_posts and tiktok.links_posts
    assert tiktok.needs_token and not local.needs_token and not demo.needs_token
    assert tiktok.takes_partnerships and not local.takes_partnerships
    assert tiktok.state_folder(home, "tiktok") is None and source_state(home, "tiktok") is None
    with pytest.raises(InputError, match=settings.tiktok.token_env):
        tiktok.gather(home, settings, "tiktok", GatherRequest())
    with pytest.raises(ValueError, match="as_of"):  # the core never reads the wall clock itself
        tiktok.gather(home, settings, "tiktok", GatherRequest(access_token="not-a-real-token"))


class ToySource(Source):
    """A source for this test only: a shared drive's export per account, handed over as tables."""

    name = "toy"
    identity_keys = ("account",)

    def __init__(self, folder: Path, account: str) -> None:
        self.folder, self.account = folder, account

    def identity(self, home: Home, settings: Settings, spec: str) -> dict[str, object]:
        return {"account": self.account}

    def gather(self, home: Home, settings: Settings, spec: str, request: GatherRequest) -> Batch:
        tables = {path.stem: read_table_file(path) for path in sorted(self.folder.glob("*.csv"))}
        return Batch(tables=tables, notes=[f"{len(tables)} tables from account {self.account}"])


def test_a_toy_source_registered_in_one_line_goes_through_the_ingest(
    tmp_path: Path, home: Home, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_folder(tmp_path / "export", replace_line("posts.csv", "videos/a.avi", ""))  # tables, no files
    monkeypatch.setitem(registry.SOURCES, "toy", ToySource(folder, "acme"))
    assert "toy" in known_sources()

    summary = ingest_source(home, settings, "toy")
    assert summary.counts["posts"].new == 3 and summary.counts["metrics"].new == 4
    assert any(note.endswith("tables from account acme") for note in summary.notes)
    recorded = home_source(home)
    assert recorded.source == "toy" and recorded.detail == {"account": "acme"}
    with Warehouse(home.warehouse, read_only=True) as wh:
        assert len(wh.read("posts")) == 3
    assert ingest_source(home, settings, "toy").new_rows == 0  # re-runs are safe

    # Another account of the toy source is another source: refused unless allowed.
    monkeypatch.setitem(registry.SOURCES, "toy", ToySource(folder, "other"))
    with pytest.raises(InputError, match="fed from toy"):
        ingest_source(home, settings, "toy")
    ingest_source(home, settings, "toy", allow_new_source=True)
    assert home_source(home).detail == {"account": "other"}
    # A toy source has no partnerships file to take.
    with pytest.raises(InputError, match="--partnerships is for the tiktok source"):
        ingest_source(home, settings, "toy", partnerships=tmp_path / "p.csv")


def test_the_readme_example_source_goes_through_the_ingest(
    tmp_path: Path, home: Home, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Adding a source", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "README's 'Adding a source' has no python example"
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README example", "exec"), namespace)  # our own README
    example = namespace["SheetsSource"]()  # type: ignore[operator]
    assert isinstance(example, Source)
    monkeypatch.setitem(registry.SOURCES, example.name, example)

    export = tmp_path / "export"
    for path in write_folder(tmp_path / "contract", replace_line("posts.csv", "videos/a.avi", "")).glob("*.csv"):
        export.mkdir(exist_ok=True)
        (export / f"{path.stem}-export.csv").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    # The settings' check of ingest.source reads the same list: the nightly run may name it too.
    assert with_overrides(settings, {"ingest": {"source": f"sheets:{export}"}}).ingest.source == f"sheets:{export}"
    summary = ingest_source(home, settings, f"sheets:{export}")
    assert summary.counts["posts"].new == 3
    assert home_source(home).source == f"sheets:{export}"
    with pytest.raises(InputError, match="known sources are demo, local:DIR, sheets:DIR, tiktok"):
        source_for("sheets")


def test_naming_the_sources_loads_no_heavy_library_and_the_tiktok_names_still_resolve() -> None:
    import subprocess
    import sys

    import sparkpick.sources.tiktok as tiktok

    check = ("import sys, sparkpick.sources.registry; "
             "print([m for m in ('httpx', 'pandas', 'duckdb') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert all(getattr(tiktok, name) is not None for name in tiktok.__all__)
    with pytest.raises(AttributeError):
        _ = tiktok.no_such_name
