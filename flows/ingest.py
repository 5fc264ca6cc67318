"""Ingest: gather from a source, check against the contract, upsert into the warehouse in one transaction.

`ingest_source` is the plain function: the CLI and tests call it, and the nightly run calls it as a stage
(under Prefect, a task with the night's retries for the outside world). No Prefect import here: a plain
night starts faster without it. Which source is which, and how each gathers, is the sources' own business
(`sparkpick.sources.registry`): nothing here names one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sparkpick.clock import as_of_or_now
from sparkpick.config import Settings
from sparkpick.contract import CheckedTables, Problem, problem_list, validate_frames
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.base import GatherRequest, HomeSource, home_source
from sparkpick.sources.local import read_folder
from sparkpick.sources.registry import find_source, source_for
from sparkpick.spreadsheet import write_csv
from sparkpick.warehouse import UpsertCounts, Warehouse

NEW_SOURCE_FLAG = "--allow-new-source"


@dataclass
class IngestSummary:
    """What one ingest did."""

    source: str
    counts: dict[str, UpsertCounts] = field(default_factory=dict)
    rejected: int = 0
    rejected_file: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def new_rows(self) -> int:
        return sum(c.new + c.changed for c in self.counts.values())

    def lines(self) -> list[str]:
        out = [f"{name}: {counts}" for name, counts in self.counts.items()]
        if self.rejected:
            out.append(f"rejected {self.rejected} rows; reasons in {self.rejected_file}")
        out += [f"note: {note}" for note in self.notes]
        return out


def _describe(problems: list[Problem], source: str) -> str:
    return (
        f"{source} has {len(problems)} problem(s); nothing was written to the warehouse.\n"
        f"{problem_list(problems)}\n"
        "Fix them, or pass --skip-invalid to load the valid rows and set the rejected ones aside."
    )


def _known(wh: Warehouse) -> tuple[dict[str, set[str]], pd.Series]:
    """The creator and post ids stored, and each stored post's posted_at (a boost may not start before it)."""
    posts = wh.read("posts")
    ids = {"creators": set(wh.read("creators")["creator_id"].tolist()), "posts": set(posts["post_id"].tolist())}
    return ids, posts.dropna(subset=["posted_at"]).set_index("post_id")["posted_at"]


def _write_rejected(data: CheckedTables, home: Home, settings: Settings, source: str) -> Path:
    folder = home.root / settings.ingest.rejected_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    safe = "".join(ch if ch.isalnum() else "-" for ch in source)[:40]
    path = folder / f"rejected-{safe}-{stamp}.csv"
    rows = data.rejected
    file_level = [p for p in data.problems if p.row is None]
    if file_level:
        extra = pd.DataFrame(
            [{"file": p.file, "row": None, "reasons": str(p), "values": json.dumps({})} for p in file_level]
        )
        rows = pd.concat([rows, extra], ignore_index=True)
    write_csv(path, rows)
    return path


def load_validated(
    data: CheckedTables, home: Home, settings: Settings, source: str, skip_invalid: bool,
    detail: Mapping[str, object] | None = None,
) -> IngestSummary:
    """Write validated tables: all or nothing, unless `skip_invalid` sets bad rows aside in a file.

    `source` (normalised, see `normalise_source`) becomes the home's recorded source in the same
    transaction, with `detail` (never a secret) beside it."""
    summary = IngestSummary(source=source, problems=list(data.problems))
    if data.problems and not skip_invalid:
        raise InputError(_describe(data.problems, source))
    if data.problems:
        summary.rejected = max(len(data.rejected), 1)
        summary.rejected_file = _write_rejected(data, home, settings, source)
    with Warehouse(home.warehouse) as wh:
        summary.counts = wh.upsert(data.tables, source=(source, json.dumps(dict(detail or {}), sort_keys=True)))
    return summary


def ingest_folder(
    home: Home, settings: Settings, folder: Path, skip_invalid: bool = False, source: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> IngestSummary:
    """Load a local folder in the data contract into the home's warehouse (recorded as `source`, by
    default `local:<absolute folder>`)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"Source folder {folder} does not exist.")
    home.ensure()
    with Warehouse(home.warehouse) as wh:
        known, posted = _known(wh)
    # The wall clock, not a night's as-of: a backfill may ingest rows from after its as-of, never from the future.
    data = read_folder(folder, known, received_at=pd.Timestamp.now(tz="UTC"), known_posted=posted,
                       max_boost_hours=settings.contract.max_boost_hours)
    return load_validated(data, home, settings, source or f"local:{folder}", skip_invalid, detail)


def normalise_source(source: str) -> str:
    """The source as the home records it (`Source.recorded`): `local:` with the absolute folder; an unknown
    source as given (ingesting it fails)."""
    known = find_source(source)
    return known.recorded(source) if known is not None else source


@dataclass(frozen=True)
class SourceChoice:
    """The source a run ingests from, and whether the user named it (CLI option or config overlay)."""

    source: str
    named: bool


def choose_source(home: Home, settings: Settings, named: str | None) -> SourceChoice:
    """The source to ingest from: the one the user named, else the one the home remembers, else
    `ingest.source` for a new home. A warehouse from before homes remembered their source (data but no
    record) is adopted only by a named source: guessing could mix the demo world into the user's data."""
    if named:
        return SourceChoice(normalise_source(named), True)
    recorded = home_source(home)
    if recorded.source is not None:
        return SourceChoice(recorded.source, False)
    if recorded.has_data:
        raise InputError(
            f"The warehouse {home.warehouse} holds data but does not record which source it came from (it "
            "predates that record). Name the source once, e.g. `sparkpick ingest --source local:DIR` (or "
            "ingest.source in a --config file), and the home remembers it from then on."
        )
    return SourceChoice(normalise_source(settings.ingest.source), False)


def fed_settings(home: Home, settings: Settings, named: str | None) -> Settings:
    """`settings` with `ingest.source` set to the source this night gathers from (`choose_source`); a named
    source other than the home's is refused here, before the night starts (exit 2, not a failed stage)."""
    from sparkpick.config import with_overrides

    source = choose_source(home, settings, named).source
    known = find_source(source)
    check_source(home, source, detail=known.identity(home, settings, source) if known is not None else None)
    return with_overrides(settings, {"ingest": {"source": source}})


def describe_source(source: str, detail: Mapping[str, object] | None = None) -> str:
    """The source in words for messages: `demo (world seed 7, size small)`, `local:/abs/dir`, `tiktok`."""
    known = find_source(source)
    return known.describe(source, detail) if known is not None else source


def _same_source(recorded: HomeSource, source: str, detail: Mapping[str, object] | None) -> bool:
    """Whether `source` with `detail` is the recorded one: the same name, and the same values of the keys that
    make another source of that name (`Source.identity_keys`: a demo world of another seed or size holds
    other posts whose ids may collide; other advertisers of the same TikTok account belong in one home)."""
    if recorded.source != source:
        return False
    known = find_source(source)
    keys = known.identity_keys if known is not None else ()
    if detail is None or not all(key in recorded.detail for key in keys):
        return True  # nothing to compare (a record from before the detail was kept)
    return all(recorded.detail[key] == detail.get(key) for key in keys)


def check_source(
    home: Home, source: str, allow_new_source: bool = False, detail: Mapping[str, object] | None = None
) -> None:
    """Refuse to put data from `source` (with `detail`, e.g. the demo world's seed and size) into a home that
    holds data from another source, or another demo world (unless allowed)."""
    recorded = home_source(home)
    if recorded.source is None or allow_new_source or not recorded.has_data or _same_source(recorded, source, detail):
        return
    old, new = describe_source(recorded.source, recorded.detail), describe_source(source, detail)
    raise InputError(
        f"This home ({home.root}) is fed from {old}; ingesting {new} would mix its data into that "
        f"warehouse, so nothing was written. Use another --home for {new}, or add it to this one with "
        f"`sparkpick ingest --source {source} {NEW_SOURCE_FLAG}` and the same settings (the home is then fed "
        f"from {new})."
    )


def ingest_tables(
    home: Home, settings: Settings, raw: Mapping[str, pd.DataFrame], source: str, skip_invalid: bool = False,
    received_at: pd.Timestamp | None = None,
    detail: Mapping[str, object] | None = None,
) -> IngestSummary:
    """Validate and load tables fetched from an API (same contract, same checks as a folder).

    `received_at` is when they were fetched (default: now).
    """
    home.ensure()
    with Warehouse(home.warehouse) as wh:
        known, posted = _known(wh)
    moment = received_at if received_at is not None else pd.Timestamp.now(tz="UTC")
    data = validate_frames(raw, {name: f"{source}:{name}" for name in raw}, None, known, moment,
                           known_posted=posted, max_boost_hours=settings.contract.max_boost_hours)
    return load_validated(data, home, settings, source, skip_invalid, detail)


def ingest_source(
    home: Home,
    settings: Settings,
    source: str,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    access_token: str | None = None,
    as_of: pd.Timestamp | None = None,
    partnerships: Path | None = None,
    allow_new_source: bool = False,
) -> IngestSummary:
    """Ingest from a source (`demo`, `local:DIR`, `tiktok`; sparkpick/sources/registry.py names them all).

    `access_token` is for a source that needs one (the TikTok API); `as_of` is the moment an API is read
    (default now). `partnerships` (tiktok only; default `tiktok.partnerships_file`) is a CSV or Parquet file
    of partnerships that sets kind and usage rights per advertiser and creator, which the API does not know.
    A home that holds data from another source is refused (`check_source`) unless `allow_new_source`.
    """
    known = find_source(source)
    if partnerships is not None and (known is None or not known.takes_partnerships):
        raise InputError(
            f"--partnerships is for the tiktok source; {source} carries its own partnerships table."
        )
    chosen = source_for(source)
    source = chosen.recorded(source)
    # Checked before gathering: building another seed's demo world would overwrite the home's.
    identity = chosen.identity(home, settings, source)
    check_source(home, source, allow_new_source, detail=identity)
    request = GatherRequest(identity, progress, access_token, as_of_or_now(as_of), partnerships)
    got = chosen.gather(home, settings, source, request)
    if got.folder is not None:
        summary = ingest_folder(home, settings, got.folder, skip_invalid or got.skip_invalid, source, identity)
    else:
        summary = ingest_tables(home, settings, got.tables or {}, source, skip_invalid or got.skip_invalid,
                                detail=identity)
    summary.problems += [Problem(source, None, None, p) for p in got.problems]
    summary.notes += got.notes
    return summary
