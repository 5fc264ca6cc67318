"""Ingest: gather from a source, check against the contract, upsert into the warehouse in one transaction.

`ingest_source` is the plain function (CLI, tests and the nightly flow call it); `ingest_flow` is the
Prefect wrapper with retries for the outside world.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from flows.invocation import resolve
from sparkpick.config import Home, Settings
from sparkpick.contract import CheckedTables, Problem, problem_list, validate_frames
from sparkpick.errors import InputError
from sparkpick.sources.local import read_folder
from sparkpick.spreadsheet import write_csv
from sparkpick.warehouse import UpsertCounts, Warehouse

DEMO_WORLD_DIR = "demo-world"


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


def _known_ids(wh: Warehouse) -> dict[str, set[str]]:
    return {
        "creators": set(wh.read("creators")["creator_id"].tolist()),
        "posts": set(wh.read("posts")["post_id"].tolist()),
    }


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
    data: CheckedTables, home: Home, settings: Settings, source: str, skip_invalid: bool
) -> IngestSummary:
    """Write validated tables: all or nothing, unless `skip_invalid` sets bad rows aside in a file."""
    summary = IngestSummary(source=source, problems=list(data.problems))
    if data.problems and not skip_invalid:
        raise InputError(_describe(data.problems, source))
    if data.problems:
        summary.rejected = max(len(data.rejected), 1)
        summary.rejected_file = _write_rejected(data, home, settings, source)
    with Warehouse(home.warehouse) as wh:
        summary.counts = wh.upsert(data.tables)
    return summary


def ingest_folder(home: Home, settings: Settings, folder: Path, skip_invalid: bool = False) -> IngestSummary:
    """Load a local folder in the data contract into the home's warehouse."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"Source folder {folder} does not exist.")
    home.ensure()
    with Warehouse(home.warehouse) as wh:
        known = _known_ids(wh)
    # The wall clock, not a night's as-of: a backfill may ingest rows from after its as-of, never from the future.
    data = read_folder(folder, known, received_at=pd.Timestamp.now(tz="UTC"))
    return load_validated(data, home, settings, f"local:{folder}", skip_invalid)


def demo_world_folder(
    home: Home, settings: Settings, progress: Callable[[int, int], None] | None = None, size: str | None = None
) -> Path:
    """Build the demo world into the home's cache once (a marker file records seed and size).

    With no `size`, whatever demo world the home already has is reused (so that nightly runs after
    `sparkpick demo --size small` keep gathering from that world); a new home gets the default size.
    """
    from sparkpick.sources.demo import build_world

    folder = home.cache / DEMO_WORLD_DIR
    marker = folder / "world.json"
    built = json.loads(marker.read_text()) if marker.is_file() else None
    if built is not None and built.get("seed") == settings.world.seed and size in (None, built.get("size")):
        return folder
    wanted = {"seed": settings.world.seed, "size": size or "default"}
    build_world(folder, settings, size=wanted["size"], seed=settings.world.seed, progress=progress)
    marker.write_text(json.dumps(wanted))
    return folder


def ingest_tables(
    home: Home, settings: Settings, raw: Mapping[str, pd.DataFrame], source: str, skip_invalid: bool = False,
    received_at: pd.Timestamp | None = None,
) -> IngestSummary:
    """Validate and load tables fetched from an API (same contract, same checks as a folder).

    `received_at` is when they were fetched (default: now).
    """
    home.ensure()
    with Warehouse(home.warehouse) as wh:
        known = _known_ids(wh)
    moment = received_at if received_at is not None else pd.Timestamp.now(tz="UTC")
    data = validate_frames(raw, {name: f"{source}:{name}" for name in raw}, None, known, moment)
    return load_validated(data, home, settings, source, skip_invalid)


def ingest_source(
    home: Home,
    settings: Settings,
    source: str,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    access_token: str | None = None,
    as_of: pd.Timestamp | None = None,
    partnerships: Path | None = None,
) -> IngestSummary:
    """Ingest from `demo`, `local:DIR` or `tiktok` (the TikTok API for Business; needs `access_token`).

    `partnerships` (tiktok only; default `tiktok.partnerships_file`) is a CSV or Parquet file of
    partnerships that sets kind and usage rights per advertiser and creator, which the API does not know.
    """
    if partnerships is not None and source != "tiktok":
        raise InputError(
            f"--partnerships is for the tiktok source; {source} carries its own partnerships table."
        )
    if source == "demo":
        return ingest_folder(home, settings, demo_world_folder(home, settings, progress), skip_invalid)
    if source.startswith("local:"):
        return ingest_folder(home, settings, Path(source.removeprefix("local:")), skip_invalid)
    if source == "tiktok":
        return _ingest_tiktok(home, settings, access_token, as_of, partnerships)
    raise InputError(f"Unknown source {source!r}: use demo, local:DIR or tiktok.")


def partnerships_path(home: Home, settings: Settings, given: Path | None) -> Path | None:
    """The partnerships file for the TikTok source: `given`, else `tiktok.partnerships_file` (relative to
    the home), else None."""
    if given is not None:
        return given
    configured = settings.tiktok.partnerships_file
    return home.root / Path(configured).expanduser() if configured else None


def _ingest_tiktok(
    home: Home, settings: Settings, token: str | None, as_of: pd.Timestamp | None, partnerships: Path | None
) -> IngestSummary:
    from sparkpick.contract import as_utc
    from sparkpick.sources.tiktok import TikTokClient, fetch_tables, read_partnerships

    if not token:
        raise InputError(
            f"The TikTok source needs an access token in the environment variable {settings.tiktok.token_env}."
        )
    path = partnerships_path(home, settings, partnerships)
    # A malformed file fails before any request. A row naming a creator the API does not return (a contract
    # signed before the creator authorised a post) is only reported: the night's ingest goes on.
    override = read_partnerships(path, settings.tiktok) if path is not None else None
    moment = as_utc(as_of if as_of is not None else pd.Timestamp.now(tz="UTC"))
    with TikTokClient(settings.tiktok.base_url, token, settings.tiktok) as client:
        fetched = fetch_tables(client, settings, moment, partnerships=override)
    # API records are checked one by one: a bad record is set aside, never sinking the batch.
    summary = ingest_tables(home, settings, fetched.tables, "tiktok", skip_invalid=True)
    summary.problems += [Problem("tiktok", None, None, str(p)) for p in fetched.problems]
    summary.notes += [str(n) for n in fetched.notes]
    return summary


@task
def ingest_task(home_dir: str, config_file: str | None, source: str, skip_invalid: bool) -> dict[str, object]:
    """Ingest with retries (`nightly.retries`, set by `ingest_flow`): the outside world fails now and then."""
    # A flow run is an entry point: it resolves its invocation (the token too, never logged) like the CLI.
    inv = resolve(home_dir, config_file)
    summary = ingest_source(inv.home, inv.settings, source, skip_invalid, access_token=inv.access_token(source))
    get_run_logger().info("ingest %s: %s", source, "; ".join(summary.lines()) or "nothing new")
    return {"source": source, "new_rows": summary.new_rows, "rejected": summary.rejected,
            "tables": {k: str(v) for k, v in summary.counts.items()}}


@flow(name="ingest")
def ingest_flow(
    home_dir: str, config_file: str | None = None, source: str | None = None, skip_invalid: bool = True
) -> dict[str, object]:
    """Gather what is new from the configured source into the warehouse."""
    settings = resolve(home_dir, config_file).settings
    cfg = settings.nightly
    retrying = ingest_task.with_options(
        retries=cfg.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=cfg.retry_delay_s) if cfg.retry_delay_s else 0,
    )
    return retrying(home_dir, config_file, source or settings.ingest.source, skip_invalid)
