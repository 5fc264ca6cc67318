"""The `Source` interface: what every source of posts (a folder, the demo world, TikTok) gives the ingest.

A source gathers the contract's tables, either as a folder in the local-folder format or as tables
fetched from an API (`Source.gather`); it may name a folder whose files are its state, which a night
fingerprints to tell whether anything can be new (`Source.state_folder`, flows/unchanged.py); and it says
what identifies it in the home's record of its source (`Source.identity`): a home fed from one source
refuses another. Sources are looked up by name in `sparkpick.sources.registry`. `--source` and
`ingest.source` spell a source as its name, or `name:ARGUMENT` for one that takes an argument
(`local:DIR`). Naming a source stays light (the settings check `ingest.source` here): a source imports
what it gathers with when it gathers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sparkpick.home import Home

if TYPE_CHECKING:
    import pandas as pd

    from sparkpick.config import Settings


@dataclass(frozen=True)
class GatherRequest:
    """What the ingest hands a source besides the home and settings (each used only by the sources that
    need it): the identity it checked against the home, progress, the token, as-of and partnerships."""

    identity: Mapping[str, object] = field(default_factory=dict)
    progress: Callable[[int, int], None] | None = None
    access_token: str | None = None  # read only for a source with `needs_token`
    as_of: pd.Timestamp | None = None  # the moment of gathering: the flow's as-of, else when the command began
    partnerships: Path | None = None  # only for a source with `takes_partnerships`


@dataclass
class Batch:
    """What a source gathered: a folder in the contract's format, or tables in its columns (not yet
    checked), with the problems and notes of gathering them."""

    folder: Path | None = None
    tables: Mapping[str, pd.DataFrame] | None = None
    # API records are checked one by one: a bad one is set aside, never sinking the batch.
    skip_invalid: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Source:
    """A source of posts. A new source subclasses this, sets `name` and implements `gather`; the rest
    has defaults that suit a source with no argument, no state to fingerprint and nothing to tell apart."""

    name: str = ""  # how --source and ingest.source name it
    argument: str | None = None  # what follows `name:` (e.g. "DIR"), or None when nothing does
    identity_keys: tuple[str, ...] = ()  # the keys of `identity` that make another source of the same name
    needs_token: bool = False  # gathering needs the TikTok access token (`tiktok.token_env`)
    takes_partnerships: bool = False  # gathering takes a partnerships file (`--partnerships`)
    links_posts: bool = True  # its posts are on TikTok, so the report links them

    @property
    def spelling(self) -> str:
        """How a user writes this source: `demo`, `local:DIR`."""
        return f"{self.name}:{self.argument}" if self.argument else self.name

    def recorded(self, spec: str) -> str:
        """The source as the home records it (e.g. with an absolute folder)."""
        return spec

    def identity(self, home: Home, settings: Settings, spec: str) -> dict[str, object]:
        """What the home records beside the source's name (never a secret); `identity_keys` among it tell
        two sources of the same name apart."""
        return {}

    def describe(self, spec: str, detail: Mapping[str, object] | None = None) -> str:
        """The source in words for messages."""
        return spec

    def default_as_of(self, settings: Settings) -> pd.Timestamp | None:
        """The as-of time of a run that names none, or None for now."""
        return None

    def state_folder(self, home: Home, spec: str) -> Path | None:
        """The folder whose files are this source's state (a night fingerprints them), or None when its
        state cannot be read cheaply (then every night gathers)."""
        return None

    def gather(self, home: Home, settings: Settings, spec: str, request: GatherRequest) -> Batch:
        """The source's tables, as a contract folder or as tables; raises `InputError` when it cannot."""
        raise NotImplementedError(f"source {self.name!r} does not say how to gather")


@dataclass(frozen=True)
class HomeSource:
    """What the home's warehouse records about its source, and whether it holds any data."""

    source: str | None
    detail: dict[str, object]
    has_data: bool


def home_source(home: Home) -> HomeSource:
    """The home's recorded source (None when none), its detail and whether its warehouse holds any data."""
    from sparkpick.warehouse import Warehouse

    if not home.warehouse.exists():
        return HomeSource(None, {}, False)
    with Warehouse(home.warehouse, read_only=True) as wh:
        source, detail = wh.recorded()
        return HomeSource(source, parse_detail(detail), wh.holds_data())


def parse_detail(text: str | None) -> dict[str, object]:
    """A recorded detail (JSON object) as a dict; {} when absent or unreadable."""
    try:
        value = json.loads(text or "{}")
    except ValueError:  # a record from an older release: nothing to compare with
        return {}
    return value if isinstance(value, dict) else {}
