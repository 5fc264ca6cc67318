"""The demo world as a source (`demo`): which world a home gets, built once into its cache, then read.

A demo world of another seed or size is another source: its posts would collide with the home's, so the
home records the world's seed and size (`DemoSource.identity`) and refuses another world's data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkpick.home import Home
from sparkpick.sources.base import Batch, GatherRequest, Source, home_source, parse_detail

if TYPE_CHECKING:
    import pandas as pd

    from sparkpick.config import Settings

DEMO_WORLD_DIR = "demo-world"
DEMO_WORLD_MARKER = "world.json"  # the built demo world's seed and size


def demo_world_wanted(home: Home, settings: Settings, size: str | None = None) -> dict[str, object]:
    """The demo world (seed and size) an ingest into this home uses: `world.seed`, and `size` or else the size
    of the world the home already has of that seed (the one it records being fed from, else the one in its
    cache), else the default. Nights give no size, so they keep gathering from the home's own world."""
    seed = settings.world.seed
    if size is None:
        marker = home.cache / DEMO_WORLD_DIR / DEMO_WORLD_MARKER
        recorded = home_source(home)
        candidates = [recorded.detail if recorded.source == DemoSource.name else {},
                      parse_detail(marker.read_text()) if marker.is_file() else {}]
        size = next((str(c["size"]) for c in candidates if c.get("seed") == seed and c.get("size")), None)
    return {"seed": seed, "size": size or "default"}


def demo_world_folder(
    home: Home, settings: Settings, progress: Callable[[int, int], None] | None = None, size: str | None = None
) -> Path:
    """Build the demo world `demo_world_wanted` names into the home's cache once (a marker file records
    seed and size); a world already there of that seed and size is reused."""
    from sparkpick.sources.demo import build_world

    folder = home.cache / DEMO_WORLD_DIR
    marker = folder / DEMO_WORLD_MARKER
    wanted = demo_world_wanted(home, settings, size)
    built = parse_detail(marker.read_text()) if marker.is_file() else None
    if built is not None and built.get("seed") == wanted["seed"] and built.get("size") == wanted["size"]:
        return folder
    build_world(folder, settings, size=str(wanted["size"]), seed=settings.world.seed, progress=progress)
    marker.write_text(json.dumps(wanted))
    return folder


class DemoSource(Source):
    """`demo`: the synthetic world of `world.seed`, built into the home's cache by its first ingest."""

    name = "demo"
    identity_keys = ("seed", "size")
    links_posts = False  # made-up posts: nothing on TikTok to link to

    def identity(self, home: Home, settings: Settings, spec: str) -> dict[str, object]:
        """The world's seed and size (`demo_world_wanted`), checked before the world is built: building
        another seed's world would overwrite the home's."""
        return demo_world_wanted(home, settings)

    def describe(self, spec: str, detail: Mapping[str, object] | None = None) -> str:
        """`demo (world seed 7, size small)`."""
        if detail and "seed" in detail:
            return f"{spec} (world seed {detail['seed']}, size {detail.get('size', 'unknown')})"
        return spec

    def default_as_of(self, settings: Settings) -> pd.Timestamp:
        """The world's "today" is its end."""
        from sparkpick.contract import as_utc

        return as_utc(settings.world.end)

    def state_folder(self, home: Home, spec: str) -> Path:
        """The built world (there only once the first night has built it)."""
        return home.cache / DEMO_WORLD_DIR

    def gather(self, home: Home, settings: Settings, spec: str, request: GatherRequest) -> Batch:
        size = request.identity.get("size")
        folder = demo_world_folder(home, settings, request.progress, size=None if size is None else str(size))
        return Batch(folder=folder)
