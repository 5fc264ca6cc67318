"""A problem found by the contract check, naming the file, the row and the column, and how it is listed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from sparkpick.contract.tables import TableSpec

# An error message lists at most this many problems (the rest are counted).
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value, row or file."""

    file: str
    row: int | None  # 1-based data row (line row + 1 in a CSV with its header); None for the whole file
    column: str | None
    message: str
    key: str | None = None  # the row's natural key, to find it quickly

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            line = f", line {self.row + 1}" if self.file.endswith(".csv") else ""
            where += f", row {self.row}{line}"
            if self.key:
                where += f" ({self.key})"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


@dataclass
class CheckedTables:
    """What the check found: the valid rows per table, every problem, and the rejected rows with reasons."""

    tables: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.problems

def problem_list(problems: list[Problem]) -> str:
    """Problems as indented lines, at most `MAX_PROBLEMS_SHOWN`, then how many more there are."""
    shown = "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return shown + (f"\n  ... and {more} more" if more > 0 else "")


def key_text(spec: TableSpec, frame: pd.DataFrame) -> pd.Series:
    """Each row's natural key in words ("advertiser_id A, creator_id B"), to find it in a message."""
    parts = [f"{k} " + frame[k].astype("str") for k in spec.key if k in frame.columns]
    if not parts:
        return pd.Series(dtype="str")
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def unknown_ids(
    frame: pd.DataFrame, column: str, known: Collection[str], why: str, file: str, keys: pd.Series
) -> list[Problem]:
    """A problem for each row whose `column` holds an id outside `known` (`why` says where it was looked for)."""
    unknown = frame[column].notna() & ~frame[column].isin(known)
    return [
        Problem(file, int(i) + 1, column, f"unknown {column} {frame.loc[i, column]!r}: {why}", keys.get(i))
        for i in frame.index[unknown]
    ]
