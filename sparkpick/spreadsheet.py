"""CSV files a person opens in Excel or Google Sheets, written so that no cell runs as a formula.

A caption or handle such as `=HYPERLINK("http://…","click")` is hostile text: a spreadsheet would run it.
Following OWASP's CSV-injection guidance, a text cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return (or their full-width forms, which some spreadsheets also read as formulas) gets a leading
apostrophe, which spreadsheets show as plain text. Numbers stay numbers: numeric columns are not touched,
and a text cell that is just a number (`-12`, `+3.5`) is not a formula. Quotes and separators inside a cell
are handled by CSV quoting: every text cell is quoted (pandas leaves a lone carriage return unquoted, which
splits the row in a spreadsheet), numbers are not, so they read back as numbers.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

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


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a table a person opens in a spreadsheet: formulas neutralised, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = neutralise_frame(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
