"""The local-folder source: CSV (or Parquet) files in the data contract, read and handed to the check.

Nothing is written here. `read_folder` finds each table's file, reads it unparsed and returns what the
contract check (`sparkpick.contract.validate_frames`) makes of it: the valid rows, typed, and every
problem, each naming the file, the row and the column. `LocalSource` is the source `local:DIR`. pandas
and the contract are imported when a folder is read, so that naming the source (the settings' check of
`ingest.source`) stays light.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkpick.home import Home
from sparkpick.sources.base import Batch, GatherRequest, Source

if TYPE_CHECKING:
    import pandas as pd

    from sparkpick.config import Settings
    from sparkpick.contract import CheckedTables

TABLE_SUFFIXES = (".csv", ".parquet")


def find_file(folder: Path, stem: str) -> Path | None:
    """`<stem>.csv`, or `<stem>.parquet` instead; None when neither exists."""
    for suffix in TABLE_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _refuse_duplicate_columns(path: Path) -> None:
    """A header naming a column twice is refused: pandas would rename the second (`post_id.1`) and load
    the first, and which of the two holds the right values cannot be guessed."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return  # reading the file properly reports these
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(
            f"the header names the column {', '.join(repr(n) for n in twice)} more than once "
            "(columns " + ", ".join(str(i + 1) for i, n in enumerate(names) if n in twice)
            + "); keep one of them and load the file again."
        )


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV (every cell as text) or Parquet file's rows, unparsed; `validate_table` parses them."""
    import pandas as pd

    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        _refuse_duplicate_columns(path)
        # Everything as text: ids must never pass through a float.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8")
    return frame.reset_index(drop=True)


def read_folder(
    folder: Path, known: Mapping[str, set[str]] | None = None, received_at: pd.Timestamp | None = None, *,
    known_posted: pd.Series | None = None, max_boost_hours: float | None = None,
) -> CheckedTables:
    """Read and validate a local folder in the data contract (`received_at`: when it is ingested; the rest
    as `validate_frames` takes them). Writes nothing."""
    from sparkpick.contract import TABLES, CheckedTables, Problem, validate_frames

    folder = Path(folder)
    if not folder.is_dir():
        return CheckedTables({}, [Problem(str(folder), None, None, "folder does not exist")])
    raw_tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for spec in TABLES:
        path = find_file(folder, spec.name)
        if path is None:
            if not spec.optional_file:
                problems.append(Problem(f"{spec.name}.csv", None, None,
                                        f"required file is missing from {folder}"))
            continue
        if (folder / f"{spec.name}.csv").is_file() and (folder / f"{spec.name}.parquet").is_file():
            problems.append(Problem(path.name, None, None,
                                    f"both {spec.name}.csv and {spec.name}.parquet exist: keep one"))
            continue
        try:
            raw_tables[spec.name] = read_table_file(path)
        except Exception as exc:  # a damaged file is a problem to report, not a crash
            problems.append(Problem(path.name, None, None, f"cannot be read: {exc}"))
            continue
        files[spec.name] = path.name
    result = validate_frames(raw_tables, files, folder, known, received_at, known_posted=known_posted,
                             max_boost_hours=max_boost_hours)
    result.problems = problems + result.problems
    return result


class LocalSource(Source):
    """`local:DIR`: a folder of CSV or Parquet files in the data contract; its tables are its state."""

    name = "local"
    argument = "DIR"

    def folder(self, spec: str) -> Path:
        return Path(spec.removeprefix(f"{self.name}:")).expanduser()

    def recorded(self, spec: str) -> str:
        """`local:` with the absolute folder."""
        return f"{self.name}:{self.folder(spec).resolve()}"

    def state_folder(self, home: Home, spec: str) -> Path | None:
        return self.folder(spec)

    def gather(self, home: Home, settings: Settings, spec: str, request: GatherRequest) -> Batch:
        return Batch(folder=self.folder(spec))
