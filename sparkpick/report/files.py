"""The report's files: `reports/<date>/shortlist.csv`, `shortlist.html` (thumbnails embedded as data URIs,
no network needed), `report.json`, `live_boosts.csv`, and `reports/latest`, refreshed when the run is the
newest one. The only part of the report that touches files."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

import pandas as pd

from sparkpick.contract import as_utc
from sparkpick.files import move_over, write_atomic
from sparkpick.report.page import MonitorView, ReportMeta, add_display_flags, render_shortlist_html
from sparkpick.spreadsheet import write_csv
from sparkpick.wording import advertiser_label, boosts_known, left_out_sentence, ranking_headline, uplift_sentence

_LATEST = "latest"
_META_FILE = "report.json"

LIVE_BOOSTS_CSV = "live_boosts.csv"


@dataclass(frozen=True)
class ReportPaths:
    """Where one run's report went."""

    folder: Path
    csv: Path
    html: Path
    latest: Path | None = None
    rows: int = 0


def load_thumbnails(shortlist: pd.DataFrame, max_bytes: int = 2_000_000) -> dict[str, bytes]:
    """Read each row's `thumbnail_path` (missing, unreadable or oversized files are skipped)."""
    out: dict[str, bytes] = {}
    if "thumbnail_path" not in shortlist.columns:
        return out
    for post_id, path in zip(shortlist["post_id"], shortlist["thumbnail_path"], strict=True):
        if not isinstance(path, str) or not path:
            continue
        try:
            p = Path(path)
            if p.stat().st_size <= max_bytes:
                out[str(post_id)] = p.read_bytes()
        except OSError:
            continue
    return out


def shortlist_csv_frame(shortlist: pd.DataFrame) -> pd.DataFrame:
    """The CSV's rows: the shortlist with every flag as a bool, the uplift in words and the advertiser's
    name (its id where no name is known) beside its id."""
    out = add_display_flags(shortlist)
    if len(out):
        out = out.sort_values(["advertiser_id", "rank"], kind="stable")
    if "advertiser_id" in out.columns:
        labels = [advertiser_label(r) for r in out.to_dict("records")]
        out = out.drop(columns=["advertiser_name"], errors="ignore")
        out.insert(list(out.columns).index("advertiser_id") + 1, "advertiser_name", labels)
    ratio = out["uplift_ratio"] if "uplift_ratio" in out.columns else pd.Series(None, index=out.index)
    out["uplift_text"] = [uplift_sentence(r) for r in ratio]
    return out.reset_index(drop=True)


def _folder_ran_at(folder: Path) -> pd.Timestamp | None:
    """When the night in `folder` ran (its report.json), or None when that is unknown."""
    try:
        return as_utc(json.loads((folder / _META_FILE).read_text(encoding="utf-8"))["ran_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _sweep_latest_leftovers(reports_dir: Path, keep: Path | None = None) -> None:
    """Remove what a killed refresh of `latest` left: hidden links and the hidden copies older versions made."""
    for left in reports_dir.glob(f".{_LATEST}.*"):
        if left == keep:
            continue
        if left.is_symlink() or left.is_file():
            left.unlink(missing_ok=True)
        else:
            shutil.rmtree(left, ignore_errors=True)


def _refresh_latest(reports_dir: Path, folder: Path, ran_at: pd.Timestamp) -> Path | None:
    """Point `latest` at this night's folder unless a night that ran later is already there.

    `latest` follows the newest night *run*, not the newest as-of date: a night once run with a far-future
    as-of cannot pin it. It is a relative symbolic link, swapped in by one rename: a kill at any moment
    leaves the old one or the new one, never none. What a killed refresh left (and the full hidden copies
    older versions made) is swept at the next one.
    """
    latest = reports_dir / _LATEST
    current = _folder_ran_at(latest) if latest.exists() else None
    if current is not None and current > ran_at:
        _sweep_latest_leftovers(reports_dir)
        return None
    link = reports_dir / f".{_LATEST}.{os.getpid()}.link"
    link.unlink(missing_ok=True)
    link.symlink_to(folder.name, target_is_directory=True)
    if latest.is_dir() and not latest.is_symlink():
        # A full copy, as older versions kept it: moved aside (a folder cannot be replaced by a link in one
        # rename), once per home; the sweep removes it.
        move_over(latest, reports_dir / f".{_LATEST}.{os.getpid()}.old")
    move_over(link, latest)
    _sweep_latest_leftovers(reports_dir)
    return latest


def reuse_report(reports_dir: Path, date: Date | str, ran_at: Any) -> ReportPaths | None:
    """The report a night already wrote for `date`, kept as it is for a night that repeats itself (same
    inputs, same shortlist): its files are marked as written now and `latest` points at it (this night
    ran at `ran_at`). None when any of its files is missing: then it is written again."""
    day = date.isoformat() if isinstance(date, Date) else str(date)
    folder = Path(reports_dir) / day
    csv_path, html_path, info = folder / "shortlist.csv", folder / "shortlist.html", folder / _META_FILE
    if not (csv_path.is_file() and html_path.is_file() and info.is_file()):
        return None
    try:
        rows = int(json.loads(info.read_text(encoding="utf-8")).get("rows", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    os.utime(info)  # "written by this run", for whoever checks (the nightly command's summary)
    latest = _refresh_latest(Path(reports_dir), folder, as_utc(ran_at))
    return ReportPaths(folder=folder, csv=csv_path, html=html_path, latest=latest, rows=rows)


def write_report(
    shortlist: pd.DataFrame,
    meta: ReportMeta,
    reports_dir: Path,
    date: Date | str,
    thumbnails: Mapping[str, bytes] | None = None,
    monitor: MonitorView | None = None,
    others: pd.DataFrame | None = None,
) -> ReportPaths:
    """Write `<reports_dir>/<date>/shortlist.{csv,html}` (replacing that date's files: a re-run of the
    same night gives the same report) and point `<reports_dir>/latest` at it (`_refresh_latest`).

    Thumbnails default to the files named in the shortlist's `thumbnail_path` column. With `monitor`, the
    page gets its "Live boosts" section and `live_boosts.csv` is written beside the shortlist.
    """
    day = date.isoformat() if isinstance(date, Date) else str(date)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise ValueError(f"Report date must look like YYYY-MM-DD, got {day!r}")
    folder = Path(reports_dir) / day
    folder.mkdir(parents=True, exist_ok=True)
    thumbs = load_thumbnails(shortlist) if thumbnails is None else dict(thumbnails)
    csv_path, html_path = folder / "shortlist.csv", folder / "shortlist.html"
    csv_frame = shortlist_csv_frame(shortlist)
    write_csv(csv_path, csv_frame)
    write_atomic(html_path, render_shortlist_html(shortlist, meta, thumbs, monitor, others).encode("utf-8"))
    info = {"date": day, "rows": len(csv_frame), **meta.to_json()}
    frame = shortlist if len(shortlist) else None
    info["ranking"] = ranking_headline(frame["model_kind"].iloc[0], boosts_known(frame)) \
        if frame is not None and "model_kind" in frame.columns else ""
    info["left_out_text"] = left_out_sentence(others)
    info["test_picks"] = int(shortlist["is_test_pick"].fillna(False).astype(bool).sum()) \
        if "is_test_pick" in shortlist.columns else 0
    if others is not None and "status" in others.columns:
        info["left_out"] = {str(k): int(v) for k, v in others["status"].value_counts().sort_index().items()}
        info["boost_again"] = int(others.get("boost_again", pd.Series(dtype=bool)).fillna(False).astype(bool).sum())
        info["held_back"] = int(others.get("held_back", pd.Series(dtype=bool)).fillna(False).astype(bool).sum())
    live_csv = folder / LIVE_BOOSTS_CSV
    if monitor is not None:
        write_csv(live_csv, monitor.boosts)
        info["live_boosts"] = len(monitor.boosts)
        info["track_record"] = dict(monitor.track_record) if monitor.track_record else None
    elif live_csv.exists():  # a re-run without the monitor must not leave an older night's live boosts
        live_csv.unlink()
    write_atomic(folder / _META_FILE, json.dumps(info, indent=2, default=str).encode("utf-8"))
    latest = _refresh_latest(Path(reports_dir), folder, as_utc(meta.ran_at))
    return ReportPaths(folder=folder, csv=csv_path, html=html_path, latest=latest, rows=len(csv_frame))
