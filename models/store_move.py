"""A moved home's MLflow store pointed at its artifacts where they are now."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from models.mlflow_store import DAMAGED_STORE_WORDS, damaged_store

# Columns of MLflow's SQLite store that hold artifact locations (absolute: MLflow resolves them so).
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


def relocate_store(db: Path, artifact_root: Path, experiment: str) -> str | None:
    """Point a moved home's MLflow store at its artifacts where they are now.

    MLflow records every artifact location as an absolute path. After the home folder is moved or copied,
    those still name the old place: loading a model fails, and new runs would write into the old folder.
    The old root is read from `experiment`'s location (`<old root>/<experiment>`); every location under it
    is rewritten under `artifact_root`, in one transaction. Returns the old root when something moved.
    """
    if not db.is_file():
        return None
    try:
        return _relocate(db, artifact_root, experiment)
    except sqlite3.DatabaseError as exc:
        if any(word in str(exc).lower() for word in DAMAGED_STORE_WORDS):
            raise damaged_store(db, exc) from exc
        raise


def _relocate(db: Path, artifact_root: Path, experiment: str) -> str | None:
    new_root = artifact_root.resolve().as_uri()
    with closing(sqlite3.connect(db, timeout=30)) as con, con:
        row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?", [experiment]).fetchone()
        suffix = f"/{experiment}"
        if row is None or not str(row[0]).endswith(suffix):
            return None
        old_root = str(row[0])[: -len(suffix)]
        if old_root in (new_root, str(artifact_root.resolve())):
            return None
        # The folder the store lives in holds the artifacts only if they were never put elsewhere on purpose.
        if Path(old_root.removeprefix("file://")).resolve() == artifact_root.resolve():
            return None
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column in _LOCATION_COLUMNS:
            if table in tables:
                con.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ? + 1) "
                    f"WHERE substr({column}, 1, ?) = ?", [new_root, len(old_root), len(old_root), old_root],
                )
        # MLflow's Default experiment took the working folder of the first command: keep it in the home too.
        con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = '0' "
                    "AND substr(artifact_location, 1, ?) != ?", [f"{new_root}/0", len(new_root), new_root])
    # Each logged model's MLmodel file records where it was logged (for information): say where it is now.
    for mlmodel in artifact_root.rglob("MLmodel"):
        text = mlmodel.read_text(encoding="utf-8")
        if old_root in text:
            mlmodel.write_text(text.replace(old_root, new_root), encoding="utf-8")
    return old_root
