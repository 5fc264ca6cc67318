"""The embedded warehouse: one DuckDB file whose tables carry the contract's names and columns.

Writes are upserts by natural key inside one transaction, so a re-run changes nothing and a failure
leaves the file as it was. Derived tables (video features, scores) are created from the first frame
written to them and gain columns as new ones appear. All timestamps are naive UTC.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sparkpick.contract import SPECS, TableSpec, typed_frame
from sparkpick.errors import DamagedFileError, InputError, SparkpickError, TransientError

# The derived tables (the contract tables are named in `sparkpick.contract`) and their natural keys.
POST_VIDEOS = "post_videos"  # each post's video file, its content hash, size and mtime
POST_VIDEOS_KEY = ("post_id",)
VIDEO_FEATURES = "video_features"  # cues per video hash and feature version
VIDEO_FEATURES_KEY = ("video_sha256", "feature_version")
SCORES = "scores"  # every scoring run's rows
SCORES_KEY = ("run_id", "advertiser_id", "post_id")
# What the home is fed from: one row (`source`: kind and normalised location such as `local:/abs/dir`,
# `detail`: JSON of the rest, e.g. the demo world's seed and size; never a secret), written with the first ingest.
HOME_SOURCE = "home_source"

_SQL_TYPES = {
    "id": "VARCHAR",
    "str": "VARCHAR",
    "path": "VARCHAR",
    "time": "TIMESTAMP",
    "int": "BIGINT",
    "float": "DOUBLE",
    "rate": "DOUBLE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class UpsertCounts:
    """What one upsert did to one table."""

    new: int
    changed: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged"


def _ddl(spec: TableSpec) -> str:
    cols = ", ".join(f'"{c.name}" {_SQL_TYPES[c.kind]}' for c in spec.columns)
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({cols})'


def _quoted(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# DuckDB's words for a file that is not (or no longer) a whole database.
_DAMAGE_WORDS = ("not a valid duckdb database", "could not read enough bytes", "corrupt", "checksum",
                 "invalid database", "failed to read database header")


def _damaged(exc: BaseException) -> bool:
    return any(word in str(exc).lower() for word in _DAMAGE_WORDS)


class Warehouse:
    """A DuckDB file holding the contract tables and derived ones.

    Use as a context manager: `with Warehouse(path) as wh: wh.upsert({...})`. Only one process may hold
    the file open for writing at a time; opening waits up to `lock_timeout_s` for another to finish.
    """

    def __init__(self, path: Path | str, read_only: bool = False, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.lock_timeout_s = lock_timeout_s
        self._con: duckdb.DuckDBPyConnection | None = None

    # -- connection ----------------------------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        if self.read_only and not self.path.exists():
            raise SparkpickError(
                f"No warehouse at {self.path}: run `sparkpick ingest` first to load data."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                self._con = duckdb.connect(str(self.path), read_only=self.read_only)
                break
            except duckdb.Error as exc:
                if _damaged(exc):
                    raise self.damaged(exc) from exc
                # Another process holds the write lock: wait for it rather than fail the run.
                if "lock" not in str(exc).lower():
                    raise SparkpickError(f"Cannot open the warehouse {self.path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise TransientError(f"The warehouse {self.path} stayed locked by another process for "
                                         f"{self.lock_timeout_s:.0f} s: {exc}") from exc
                time.sleep(0.2)
        self._con.execute("SET TimeZone = 'UTC'")
        if not self.read_only:
            for spec in SPECS.values():
                self._con.execute(_ddl(spec))
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._con is not None:
            with suppress(duckdb.Error):
                self._con.close()
            self._con = None
        # A truncated file can open and fail only when a query reaches the missing part: say so here,
        # for every query made inside the `with` block.
        if isinstance(exc, duckdb.Error) and _damaged(exc):
            raise self.damaged(exc) from exc

    def damaged(self, exc: BaseException) -> DamagedFileError:
        return DamagedFileError(
            self.path, "The warehouse", "Restore it from a backup, or move it aside and rebuild it from your "
            "sources with `sparkpick ingest` (then `sparkpick featurize`).", str(exc))

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise SparkpickError("The warehouse is not open: use it inside `with Warehouse(...)`.")
        return self._con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- reading -------------------------------------------------------------------------------------
    def has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(rows)

    def fingerprint(self, exclude: tuple[str, ...] = ()) -> str:
        """A digest of every table's rows, in any order: equal digests mean the same contents (for
        deciding that nothing changed, not for security)."""
        names = sorted(
            name for (name,) in self.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
            if name not in exclude
        )
        parts = []
        for name in names:
            count, digest = self.con.execute(f'SELECT count(*), bit_xor(hash(t)) FROM "{name}" t').fetchall()[0]
            parts.append(f"{name}:{count}:{digest}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def read(self, table: str, where: str | None = None, params: list[Any] | None = None) -> pd.DataFrame:
        """A table (optionally filtered by a SQL condition with `?` parameters) as a DataFrame."""
        if not self.has_table(table):
            spec = SPECS.get(table)
            if spec is None:
                return pd.DataFrame()
            return typed_frame(spec)
        sql = f'SELECT * FROM "{table}"' + (f" WHERE {where}" if where else "")
        return self.con.execute(sql, params or []).df()

    def contract_tables(self) -> dict[str, pd.DataFrame]:
        """All contract tables, keyed by name (an optional table never loaded reads empty)."""
        return {name: self.read(name) for name in SPECS}

    def count(self, table: str) -> int:
        if not self.has_table(table):
            return 0
        return int(self.con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])

    def recorded(self) -> tuple[str | None, str | None]:
        """(source, detail JSON) this warehouse is fed from (see `HOME_SOURCE`); (None, None) when none is
        recorded. The detail names what makes the source itself, e.g. the demo world's seed and size."""
        if not self.has_table(HOME_SOURCE):
            return None, None
        rows = self.con.execute(f'SELECT source, detail FROM "{HOME_SOURCE}" LIMIT 1').fetchall()
        if not rows:
            return None, None
        source, detail = rows[0]
        return str(source), (str(detail) if detail is not None else None)

    def recorded_source(self) -> str | None:
        """The source this warehouse is fed from, or None when none is recorded."""
        return self.recorded()[0]

    def recorded_detail(self) -> str | None:
        """The recorded source's detail (JSON), or None when none."""
        return self.recorded()[1]

    def holds_data(self) -> bool:
        """Whether any contract table has a row."""
        return any(self.count(name) for name in SPECS)

    # -- writing -------------------------------------------------------------------------------------
    def upsert(
        self, frames: dict[str, pd.DataFrame], source: tuple[str, str] | None = None
    ) -> dict[str, UpsertCounts]:
        """Upsert validated contract frames (see `sparkpick.contract`) in one transaction; `source`
        (`(source, detail JSON)`) is recorded as the home's source in the same transaction, unless it already is,
        detail included (the record then stays as it was, so the warehouse's fingerprint does too)."""
        counts: dict[str, UpsertCounts] = {}
        with self.transaction():
            for spec in SPECS.values():
                if spec.name in frames:
                    frame = frames[spec.name][spec.column_names]
                    counts[spec.name] = self._upsert(spec.name, frame, spec.key)
            if source is not None and tuple(source) != self.recorded():
                self.con.execute(f'CREATE TABLE IF NOT EXISTS "{HOME_SOURCE}" '
                                 "(source VARCHAR, detail VARCHAR, recorded_at TIMESTAMP)")
                self.con.execute(f'DELETE FROM "{HOME_SOURCE}"')
                self.con.execute(f'INSERT INTO "{HOME_SOURCE}" VALUES (?, ?, now()::TIMESTAMP)', list(source))
        return counts

    def upsert_frame(self, table: str, frame: pd.DataFrame, key: tuple[str, ...]) -> UpsertCounts:
        """Upsert a derived table by `key`, creating it (or new columns) from the frame's dtypes."""
        with self.transaction():
            if not self.has_table(table):
                self.con.register("_sp_new", frame)
                self.con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _sp_new LIMIT 0')
                self.con.unregister("_sp_new")
            else:
                existing = set(self.read_columns(table))
                for col in frame.columns:
                    if col not in existing:
                        sql_type = self._sql_type_of(frame[[col]])
                        self.con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {sql_type}')
            return self._upsert(table, frame, key)

    def delete(self, table: str, where: str, params: list[Any] | None = None) -> None:
        if self.has_table(table):
            self.con.execute(f'DELETE FROM "{table}" WHERE {where}', params or [])

    def read_columns(self, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def _sql_type_of(self, frame: pd.DataFrame) -> str:
        self.con.register("_sp_probe", frame)
        try:
            return str(self.con.execute("DESCRIBE SELECT * FROM _sp_probe").fetchall()[0][1])
        finally:
            self.con.unregister("_sp_probe")

    def _upsert(self, table: str, frame: pd.DataFrame, key: tuple[str, ...]) -> UpsertCounts:
        con = self.con
        con.register("_sp_stage", frame)
        try:
            cols = list(frame.columns)
            on = " AND ".join(f's."{k}" = t."{k}"' for k in key)
            differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in cols if c not in key) or "FALSE"
            con.execute(
                f'CREATE OR REPLACE TEMP TABLE _sp_changed AS SELECT s.* FROM _sp_stage s JOIN "{table}" t '
                f"ON {on} WHERE {differs}"
            )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _sp_new AS SELECT s.* FROM _sp_stage s "
                f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {on})'
            )
            n_changed = int(con.execute("SELECT count(*) FROM _sp_changed").fetchall()[0][0])
            n_new = int(con.execute("SELECT count(*) FROM _sp_new").fetchall()[0][0])
            if n_changed:
                con.execute(
                    f'DELETE FROM "{table}" t WHERE EXISTS (SELECT 1 FROM _sp_changed s WHERE {on})'
                )
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT {_quoted(cols)} FROM _sp_changed')
            if n_new:
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT {_quoted(cols)} FROM _sp_new')
            con.execute("DROP TABLE IF EXISTS _sp_changed")
            con.execute("DROP TABLE IF EXISTS _sp_new")
        finally:
            con.unregister("_sp_stage")
        return UpsertCounts(new=n_new, changed=n_changed, unchanged=len(frame) - n_new - n_changed)


@dataclass(frozen=True)
class ModelInputs:
    """What the features and the models read: the contract tables and the stored video tables.

    `post_videos` and `video_features` are None until videos have been featurised.
    """

    tables: dict[str, pd.DataFrame]
    post_videos: pd.DataFrame | None
    video_features: pd.DataFrame | None


def require_warehouse(path: Path) -> None:
    """Refuse a home with no warehouse yet, before a command writes anything (a model, a run) for it."""
    if not Path(path).exists():
        raise InputError(f"No warehouse at {path}: run `sparkpick ingest` first to load data.")


def read_model_inputs(path: Path) -> ModelInputs:
    """The one reader of the model inputs (read-only; a missing warehouse is the user's to fix)."""
    require_warehouse(path)
    with Warehouse(path, read_only=True) as wh:
        tables = wh.contract_tables()
        if wh.has_table(POST_VIDEOS) and wh.has_table(VIDEO_FEATURES):
            return ModelInputs(tables, wh.read(POST_VIDEOS), wh.read(VIDEO_FEATURES))
    return ModelInputs(tables, None, None)


# -- the actions log -----------------------------------------------------------------------------------
# Every call sparkpick makes (or plans) on an ad account, one row each, written before the call and
# completed after it (sparkpick/sources/tiktok/actions/ is its one writer). JSON columns hold the request
# body (the token is a header and never in it), the answer, and the account's state before and after.
ACTIONS = "actions"
ACTION_COLUMNS = {
    "action_id": "BIGINT", "run_id": "VARCHAR", "logged_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
    "as_of": "TIMESTAMP", "advertiser_id": "VARCHAR", "kind": "VARCHAR", "post_id": "VARCHAR",
    "ad_id": "VARCHAR", "adgroup_id": "VARCHAR", "requested_by": "VARCHAR", "reason": "VARCHAR",
    "mode": "VARCHAR", "status": "VARCHAR", "endpoint": "VARCHAR", "request": "VARCHAR",
    "state_before": "VARCHAR", "answer": "VARCHAR", "state_after": "VARCHAR", "note": "VARCHAR",
    "undo_of": "BIGINT",
}


def _actions_table(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f'"{k}" {v}' for k, v in ACTION_COLUMNS.items())
    con.execute(f'CREATE TABLE IF NOT EXISTS "{ACTIONS}" ({cols})')


def add_action(path: Path, row: dict[str, Any], lock_timeout_s: float = 30.0) -> int:
    """Append one row to the actions log (committed before this returns); its new `action_id`."""
    unknown = set(row) - set(ACTION_COLUMNS)
    if unknown:
        raise SparkpickError(f"Unknown actions column(s): {sorted(unknown)}")
    with Warehouse(path, lock_timeout_s=lock_timeout_s) as wh, wh.transaction() as con:
        _actions_table(con)
        action_id = int(con.execute(f'SELECT coalesce(max(action_id), 0) + 1 FROM "{ACTIONS}"').fetchall()[0][0])
        values = {**row, "action_id": action_id}
        names = list(values)
        con.execute(f'INSERT INTO "{ACTIONS}" ({_quoted(names)}) VALUES ({", ".join("?" * len(names))})',
                    [values[n] for n in names])
    return action_id


def update_action(path: Path, action_id: int, fields: dict[str, Any], lock_timeout_s: float = 30.0) -> None:
    """Change some columns of one actions row (committed before this returns)."""
    unknown = set(fields) - set(ACTION_COLUMNS)
    if unknown or "action_id" in fields:
        raise SparkpickError(f"Cannot set actions column(s): {sorted(unknown | ({'action_id'} & set(fields)))}")
    if not fields:
        return
    with Warehouse(path, lock_timeout_s=lock_timeout_s) as wh, wh.transaction() as con:
        _actions_table(con)
        sets = ", ".join(f'"{k}" = ?' for k in fields)
        con.execute(f'UPDATE "{ACTIONS}" SET {sets} WHERE action_id = ?', [*fields.values(), action_id])


def read_actions(path: Path, lock_timeout_s: float = 30.0) -> pd.DataFrame:
    """The actions log, oldest first (empty, with its columns, when nothing was ever logged)."""
    empty = pd.DataFrame({k: pd.Series(dtype="object") for k in ACTION_COLUMNS})
    if not Path(path).exists():
        return empty
    with Warehouse(path, read_only=True, lock_timeout_s=lock_timeout_s) as wh:
        if not wh.has_table(ACTIONS):
            return empty
        return wh.con.execute(f'SELECT * FROM "{ACTIONS}" ORDER BY action_id').df()
