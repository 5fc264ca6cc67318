"""Raw cells parsed into the contract's types, one problem per bad cell (ours, so that it names the value)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from sparkpick import storage
from sparkpick.contract.problems import Problem
from sparkpick.contract.tables import DTYPES, MAX_AMOUNT, MAX_COUNT, Column

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
# A big id that went through a float: "7.2e+18" or "123.0".
_FLOATED_ID = re.compile(r"^\d+(\.\d*)?[eE][+-]?\d+$|^\d+\.0+$")


def _blank(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return values.isna() | (values.astype("str").str.strip() == "")
    return values.isna()


class ColumnParser:
    """Turns one raw column into typed values, collecting a problem per bad cell."""

    def __init__(self, file: str, folder: Path | None, keys: pd.Series) -> None:
        self.file = file
        self.folder = folder
        self.keys = keys
        self.problems: list[Problem] = []
        self.bad_rows: set[int] = set()

    def _flag(self, rows: pd.Index, column: str, message_of: pd.Series | str) -> None:
        for i in rows:
            msg = message_of if isinstance(message_of, str) else str(message_of.loc[i])
            self.problems.append(Problem(self.file, int(i) + 1, column, msg, self.keys.get(i)))
            self.bad_rows.add(int(i))

    def parse(self, col: Column, raw: pd.Series) -> pd.Series:
        blank = _blank(raw)
        if col.required and not col.nullable:
            self._flag(raw.index[blank], col.name, "missing value")
        parsed = getattr(self, f"_{col.kind}")(col, raw, blank)
        return parsed

    def _text(self, raw: pd.Series, blank: pd.Series) -> pd.Series:
        out = raw.astype("str").str.strip()
        return out.where(~blank, None).astype(DTYPES["str"])

    def _id(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_float_dtype(raw):
            self._flag(raw.index[~blank], col.name, "ids must be text or integers, not floating point numbers")
        text = self._text(raw, blank)
        floated = text.str.match(_FLOATED_ID) & ~blank
        self._flag(
            text.index[floated], col.name,
            text.map(lambda v: f"id {v!r} looks like a number that went through a float; store ids as text"),
        )
        return text

    def _str(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        text = self._text(raw, blank)
        if col.allowed:
            bad = ~blank & ~text.isin(col.allowed)
            self._flag(
                text.index[bad], col.name,
                text.map(lambda v: f"{v!r} is not one of {', '.join(col.allowed)}"),
            )
        return text

    def _path(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        text = self._text(raw, blank)
        out = pd.Series([None] * len(text), index=text.index, dtype="object")
        root = self.folder.resolve() if self.folder else None
        for i, value in text[~blank].items():
            if storage.is_url(value):  # object storage (s3://, gs://) or file://: read through fsspec
                problem = storage.check(value)
                if problem is not None:
                    self._flag(pd.Index([i]), col.name, f"video URL unreachable: {problem}")
                    continue
                out.loc[i] = value
                continue
            candidate = Path(value)
            if root is None:
                resolved = candidate.resolve()
            else:
                resolved = (root / candidate).resolve()
                if not resolved.is_relative_to(root):
                    self._flag(pd.Index([i]), col.name, f"video path {value!r} points outside the folder {root}")
                    continue
            if not resolved.is_file():
                self._flag(pd.Index([i]), col.name, f"video file {value!r} does not exist")
                continue
            out.loc[i] = str(resolved)
        return out.astype(DTYPES["path"])

    def _time(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = pd.to_datetime(raw, utc=True)
        else:
            parsed = pd.to_datetime(raw.where(~blank, None), utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"unparseable time {v!r} (use ISO 8601)"))
        return parsed.dt.tz_localize(None).astype(DTYPES["time"])

    def _number(self, col: Column, raw: pd.Series, blank: pd.Series, maximum: float = MAX_AMOUNT) -> pd.Series:
        """Finite numbers up to `maximum` in size; anything else (text, NaN, inf, 1e309, a number too big to
        be real) is flagged and left empty, so that no later step computes with it."""
        values = pd.to_numeric(raw.where(~blank, None), errors="coerce").astype(DTYPES["float"])
        bad = values.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"{v!r} is not a number"))
        infinite = values.notna() & ~np.isfinite(values)
        self._flag(raw.index[infinite], col.name, raw.map(lambda v: f"{v!r} is not a finite number"))
        huge = values.notna() & np.isfinite(values) & (values.abs() > maximum)
        self._flag(raw.index[huge], col.name,
                   raw.map(lambda v: f"{v!r} is out of range (at most {maximum:.0e} in size)".replace("e+", "e")))
        return values.where(~(infinite | huge))

    def _int(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        values = self._number(col, raw, blank, maximum=MAX_COUNT)
        fractional = values.notna() & (values != values.round())
        self._flag(values.index[fractional], col.name, values.map(lambda v: f"{v} is not a whole number"))
        return values.round().astype(DTYPES["int"])

    def _float(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        return self._number(col, raw, blank)

    def _rate(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        return self._number(col, raw, blank)

    def _bool(self, col: Column, raw: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype(DTYPES["bool"])
        text = raw.astype("str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=raw.index, dtype=DTYPES["bool"])
        out[text.isin(_TRUE)] = True
        out[text.isin(_FALSE)] = False
        bad = out.isna() & ~blank
        self._flag(raw.index[bad], col.name, raw.map(lambda v: f"{v!r} is not a boolean (true or false)"))
        return out
