"""The demo world: a synthetic advertiser universe in the local-folder contract, with rendered videos.

`build_world(out_dir, settings, size, seed, progress, workers) -> WorldSummary` writes one. Imported
lazily, so that render worker processes load only OpenCV, PyAV and numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkpick.sources.demo.build import WorldSummary, build_world

__all__ = ["WorldSummary", "build_world"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sparkpick.sources.demo import build

        return getattr(build, name)
    raise AttributeError(name)
