"""The demo world the end-to-end tests run on, rendered once per test run and shared by every test (and
every pytest-xdist worker) that needs it."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

from sparkpick.config import Settings, with_overrides
from sparkpick.sources.demo.source import DEMO_WORLD_DIR, DEMO_WORLD_MARKER
from sparkpick.sources.demo.tables import VIDEO_DIR

# The tiny world has too few past boosts to train on; this one has enough and still renders in seconds.
TRAINABLE = {"world": {"sizes": {"e2e": {
    "advertisers": 2, "creators_per_advertiser": 4, "posts": 160, "days": 60, "max_duration_s": None}}}}


def shared_world(root: Path, settings: Settings) -> Path:
    """The `e2e` world of `world.seed` (tables, truth, rendered videos) in `root`, built by the first caller;
    the others wait for it. Read it or copy it, never write into it."""
    folder = root / "e2e-world"
    done = root / "e2e-world.done"
    with (root / "e2e-world.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.is_file():
            from sparkpick.sources.demo import build_world

            shutil.rmtree(folder, ignore_errors=True)
            build_world(folder, with_overrides(settings, TRAINABLE), size="e2e", seed=settings.world.seed)
            done.touch()
    return folder


def with_rendered_videos(home: Path, world: Path) -> Path:
    """Put `world`'s rendered videos (and their manifest) in a new home's demo-world cache. A command that
    builds the same world there (same seed and sizes) still writes every table and checks every video
    against the manifest, but renders none: the renderer is tested where `world` is built."""
    shutil.copytree(world / VIDEO_DIR, home / "cache" / DEMO_WORLD_DIR / VIDEO_DIR)
    return home


def with_built_world(home: Path, world: Path, seed: int, size: str) -> Path:
    """Put `world` in a new home's demo-world cache as the world of `seed` and `size` that the home's first
    ingest would build there (the same seed and sizes): that ingest reads it as built, renders nothing. The
    folder is then the same before the first night and after it, as it is after a night that built it."""
    folder = home / "cache" / DEMO_WORLD_DIR
    shutil.copytree(world, folder)
    (folder / DEMO_WORLD_MARKER).write_text(json.dumps({"seed": seed, "size": size}))
    return home
