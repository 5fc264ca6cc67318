"""A night with nothing new costs what changed: what a night computed is kept and reused while its inputs
stay the same.

Scoring and the live-boost monitor are pure functions of the warehouse's contents, the champion model,
the settings and the as-of time. After a night, its scores, its monitor view and its item failures are
kept under a fingerprint of those four plus the state of the source it ingested from
(`<home>/cache/nightly/`). Two checks use it:

- before ingesting: when the source's state is the same too (a local folder whose tables have the same
  contents and whose other files the same size and modification time), nothing can be new, and the
  night skips every stage and repeats the kept shortlist and live boosts (`NightInputs.same_night`).
  `sparkpick nightly` makes this check before starting Prefect, whose start-up would cost more than the
  whole night.
- after ingesting and featurizing: when the warehouse, model store, settings and as-of time are the same
  (say the files were touched but their rows did not change), the kept scores and monitor view are
  reused instead of loading MLflow and LightGBM (`NightInputs.same_scoring`).

The model store is fingerprinted by its SQLite file's size and modification time (any registration,
promotion or logged track record changes them) and the folders of its artifacts (a model's files
deleted change them). A store that is not a local SQLite file, a source whose
state cannot be read cheaply (the TikTok API) and video files outside the source folder (fsspec URLs)
cannot be fingerprinted cheaply: such nights run those stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sparkpick import __version__
from sparkpick.config import Settings
from sparkpick.contract import SPECS
from sparkpick.errors import SparkpickError
from sparkpick.files import atomic_path, file_sha256, write_atomic
from sparkpick.home import Home
from sparkpick.report import MonitorView
from sparkpick.warehouse import POST_VIDEOS, SCORES, Warehouse

log = logging.getLogger("sparkpick.nightly")
_FOLDER = "nightly"
_TABLE_SUFFIXES = (".csv", ".parquet")
_FILES = ("scored.parquet", "live_boosts.parquet", "live_hourly.parquet", "night.json")


@dataclass(frozen=True)
class NightInputs:
    """The fingerprint of everything one night's output depends on."""

    as_of: str
    warehouse: str
    model_store: str
    settings: str
    # The source's state before ingest; None when it cannot be read cheaply (then the night ingests).
    source: str | None = None

    def same_night(self, kept: NightInputs) -> bool:
        """Nothing can be new: the source, warehouse, model, settings and as-of are all as they were."""
        return self.source is not None and self == kept

    def changed_since(self, kept: NightInputs) -> list[str]:
        """What differs from `kept`, in words (for the log: why a night runs its stages)."""
        words = {"as_of": "the as-of time", "warehouse": "the warehouse's rows", "model_store": "the model store",
                 "settings": "the settings or the sparkpick release", "source": "the source's files"}
        mine, theirs = asdict(self), asdict(kept)
        return [words[k] for k in mine if mine[k] != theirs[k] or (k == "source" and mine[k] is None)]

    def same_scoring(self, kept: NightInputs) -> bool:
        """The scores and the monitor would come out the same (the source's state aside)."""
        return replace(self, source=None) == replace(kept, source=None)


@dataclass(frozen=True)
class KeptNight:
    """What a night computed, kept for a later run with the same inputs."""

    inputs: NightInputs
    scored: pd.DataFrame
    monitor: MonitorView | None
    failures: tuple[str, ...] = ()


def _model_store(home: Home, settings: Settings) -> str | None:
    uri = home.tracking_uri(settings)
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{_artifact_folders(path.parent)}"


def _artifact_folders(root: Path) -> str:
    """A digest of every folder under the store's own folder (the models' and runs' artifacts), by name
    and modification time: a model's files deleted or replaced change a folder's time, so a night after
    that does not repeat the kept one (it loads the champion and says what is damaged). Folders only, and
    not `root`'s own time, which SQLite's journal files move: one `stat` per folder."""
    digest = hashlib.sha256()
    for folder, dirs, _files in os.walk(root):
        dirs.sort()
        if folder == str(root):
            continue
        try:
            stamp = os.stat(folder).st_mtime_ns
        except OSError:  # removed while listed
            continue
        digest.update(f"{Path(folder).relative_to(root)}\0{stamp}\n".encode())
    return digest.hexdigest()[:16]


def folder_state(folder: Path) -> str | None:
    """A digest of what the folder reader would read under `folder` (None if unreadable or empty): the
    contract's tables (CSV, Parquet) by their contents, since exports are often rewritten whole every
    night; any other file (videos) by size and modification time, which is what the video cache itself
    goes by. Other tables (a demo world's hidden truth, say) are neither read nor counted."""
    digest = hashlib.sha256()
    files = 0
    try:
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                is_table = path.suffix.lower() in _TABLE_SUFFIXES
                if is_table and path.stem not in SPECS:
                    continue
                digest.update(f"{path.relative_to(folder)}\0".encode())
                if is_table:
                    digest.update(bytes.fromhex(file_sha256(path)))
                else:
                    st = path.stat()
                    digest.update(f"{st.st_size}\0{st.st_mtime_ns}\n".encode())
                files += 1
    except OSError as exc:
        log.debug("cannot list %s: %s", folder, exc)
        return None
    return digest.hexdigest() if files else None


def source_state(home: Home, source: str) -> str | None:
    """The state of a source with a folder (`Source.state_folder`: a local folder, the built demo world),
    or None for any other source."""
    from sparkpick.sources.registry import find_source

    known = find_source(source)
    folder = known.state_folder(home, source) if known is not None else None
    if folder is None or not folder.is_dir():
        return None
    state = folder_state(folder.resolve())
    return f"{source}:{state}" if state else None


def night_inputs(
    home: Home, settings: Settings, as_of: pd.Timestamp, state: str | None = None
) -> NightInputs | None:
    """The fingerprint now, with the source's `state` (`source_state`, taken by the caller once per night,
    before ingesting), or None when it cannot be taken cheaply."""
    store = _model_store(home, settings)
    if store is None or not home.warehouse.exists():
        return None
    try:
        # Read-write, as the night's own connections are (DuckDB refuses a read-only one beside them),
        # and without waiting: a warehouse another process is writing gives no shortcut.
        with Warehouse(home.warehouse, lock_timeout_s=0) as wh:
            contents = wh.fingerprint(exclude=(SCORES,))
            # A video at a URL may change without the folder changing: such a home always ingests.
            remote_videos = wh.has_table(POST_VIDEOS) and wh.con.execute(
                f"SELECT count(*) FROM \"{POST_VIDEOS}\" WHERE video_path LIKE '%://%'").fetchall()[0][0] > 0
    except (duckdb.Error, SparkpickError) as exc:  # another process is writing it: take no shortcut
        log.debug("no fingerprint of %s: %s", home.warehouse, exc)
        return None
    state = None if remote_videos else state
    # The release too: a new sparkpick may score the same inputs differently.
    config = hashlib.sha256(f"{__version__}\0{settings.model_dump_json()}".encode()).hexdigest()
    return NightInputs(as_of=str(as_of), warehouse=contents, model_store=store, settings=config, source=state)


def _paths(home: Home) -> dict[str, Path]:
    folder = home.cache / _FOLDER
    return {name: folder / name for name in _FILES}


def kept_inputs(home: Home) -> NightInputs | None:
    """The inputs of the night kept last, without loading its frames (None: nothing usable kept)."""
    try:
        meta = json.loads(_paths(home)["night.json"].read_text(encoding="utf-8"))
        return NightInputs(**meta["inputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_kept(home: Home) -> KeptNight | None:
    """The night kept last, or None (nothing kept, or a damaged copy: the night then runs its stages)."""
    paths = _paths(home)
    try:
        meta = json.loads(paths["night.json"].read_text(encoding="utf-8"))
        inputs = NightInputs(**meta["inputs"])
        scored = pd.read_parquet(paths["scored.parquet"])
        monitor = None
        if meta.get("monitor") is not None:
            monitor = MonitorView(boosts=pd.read_parquet(paths["live_boosts.parquet"]),
                                  hourly=pd.read_parquet(paths["live_hourly.parquet"]),
                                  track_record=meta["monitor"]["track_record"])
        return KeptNight(inputs=inputs, scored=scored, monitor=monitor, failures=tuple(meta.get("failures", ())))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("no reusable night: %s", exc)
        return None


def _plain(value: Any) -> Any:
    """NumPy scalars and timestamps as JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def keep_night(home: Home, night: KeptNight) -> None:
    """Keep `night` for a later run (best effort: a failure only costs the next night its stages).

    The fingerprint file is removed first and written last: a run killed in between leaves no fingerprint,
    never an old fingerprint beside new frames."""
    paths = _paths(home)
    paths["night.json"].unlink(missing_ok=True)
    try:
        paths["night.json"].parent.mkdir(parents=True, exist_ok=True)
        frames = {"scored.parquet": night.scored}
        if night.monitor is not None:
            frames |= {"live_boosts.parquet": night.monitor.boosts, "live_hourly.parquet": night.monitor.hourly}
        for name, frame in frames.items():
            with atomic_path(paths[name]) as tmp:
                frame.to_parquet(tmp, index=False)
        monitor = None if night.monitor is None else {"track_record": night.monitor.track_record}
        meta = {"inputs": asdict(night.inputs), "monitor": monitor, "failures": list(night.failures)}
        write_atomic(paths["night.json"], json.dumps(meta, default=_plain))
    except (OSError, ValueError, TypeError) as exc:
        paths["night.json"].unlink(missing_ok=True)
        log.warning("the night's results could not be kept for reuse (%s); the next run computes them again", exc)


def forget_night(home: Home) -> None:
    """Forget the kept night (a night that failed a stage must run its stages again next time)."""
    _paths(home)["night.json"].unlink(missing_ok=True)


def nothing_to_do(home: Home, settings: Settings, as_of: pd.Timestamp) -> bool:
    """Whether a night at `as_of` would find nothing new and repeat the kept night (cheap: no frames read)."""
    kept = kept_inputs(home)
    if kept is None:
        return False
    now = night_inputs(home, settings, as_of, source_state(home, settings.ingest.source))
    return now is not None and now.same_night(kept)
