"""CSV files a person opens in Excel or Google Sheets, written so that no cell runs as a formula.

A caption or handle such as `=HYPERLINK("http://…","click")` is hostile text: a spreadsheet would run it.
Following OWASP's CSV-injection guidance, a text cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return (or their full-width forms, which some spreadsheets also read as formulas) gets a leading
apostrophe, which spreadsheets show as plain text. Numbers stay numbers: numeric columns are not touched,
and a text cell that is just a number (`-12`, `+3.5`) is not a formula. Quotes and separators inside a cell
are handled by CSV quoting: every text cell is quoted (pandas leaves a lone carriage return unquoted, which
splits the row in a spreadsheet), numbers are not, so they read back as numbers. Every time is written
in full ISO 8601 with its offset (`2026-11-01T00:00:00+00:00`; naive times are UTC), never as a bare date
at midnight, so that a folder of these files parses with one format.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sparkpick.files import write_atomic

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """The value, with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table with every text cell neutralised (and its column names: a header is a cell too)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_cell).astype(object)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def _iso(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()


def iso_times(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every time column (and every cell holding a time) as full ISO 8601 text in UTC with its
    offset: pandas alone writes a column whose times all fall at midnight as bare dates."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[col] = values.map(_iso).astype(object)
        elif values.dtype == object and values.map(lambda v: isinstance(v, pd.Timestamp | datetime)).any():
            out[col] = values.map(lambda v: _iso(v) if isinstance(v, pd.Timestamp | datetime) else v)
    return out


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a table a person opens in a spreadsheet: formulas neutralised, times in full ISO 8601, written
    atomically (a failed write leaves neither a half file nor its temporary copy)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give a file name to write the CSV to")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = neutralise_frame(iso_times(frame)).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    write_atomic(path, data)
