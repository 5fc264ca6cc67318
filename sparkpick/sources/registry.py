"""Every source by name: the one list the flows look a source up in (`--source`, `ingest.source`).

A new source is one module with a `Source` subclass (sparkpick/sources/base.py) and one line in `SOURCES`.
"""

from __future__ import annotations

from sparkpick.errors import InputError
from sparkpick.sources.base import Source
from sparkpick.sources.demo.source import DemoSource
from sparkpick.sources.local import LocalSource
from sparkpick.sources.tiktok.source import TikTokSource

SOURCES: dict[str, Source] = {source.name: source for source in (
    LocalSource(),
    DemoSource(),
    TikTokSource(),
)}


def known_sources() -> list[str]:
    """How each known source is written, sorted: `demo`, `local:DIR`, `tiktok`."""
    return sorted(source.spelling for source in SOURCES.values())


def find_source(spec: str) -> Source | None:
    """The source `spec` names (`demo`, `local:DIR`), or None when no known source is written so."""
    name, colon, argument = spec.partition(":")
    source = SOURCES.get(name)
    if source is None or bool(colon) != (source.argument is not None) or (colon and not argument.strip()):
        return None
    return source


def source_for(spec: str) -> Source:
    """The source `spec` names; an unknown one fails, naming the setting and the known sources."""
    source = find_source(spec)
    if source is None:
        raise InputError(
            f"Unknown source {spec!r} (--source, or ingest.source in the config): the known sources are "
            f"{', '.join(known_sources())}."
        )
    return source
