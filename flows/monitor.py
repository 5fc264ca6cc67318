"""The live-boost monitor as a job: read the warehouse, find each live boost's pick-time prediction, let
`models.monitor` weigh the evidence, and add the model's track record.

`run_monitor` is the plain function (the CLI, the nightly run, the hourly deployment in
flows/deployments.py and the tests call it). It imports neither Prefect nor, without a model store,
MLflow, so `sparkpick monitor` starts quickly. Figures at T use only hourly rows that ended by T, scores
made by T and baselines that ended before T.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sparkpick.clock import as_of_or_now, hours_ended_by
from sparkpick.config import Settings
from sparkpick.home import Home
from sparkpick.report import MonitorView
from sparkpick.spreadsheet import write_csv
from sparkpick.warehouse import SCORES, Warehouse
from sparkpick.wording import name_advertisers, track_record_sentence

log = logging.getLogger("sparkpick.monitor")
HOURLY_TABLE = "spark_hourly"
# The hourly deployment writes reports/live/<as-of>.csv and reports/live/latest.csv.
LIVE_DIR = "live"


@dataclass(frozen=True)
class MonitorRun:
    """What one look at the live boosts found."""

    as_of: pd.Timestamp
    boosts: pd.DataFrame  # models.monitor.OUTPUT_COLUMNS and its evidence columns, creator_handle, caption
    hourly: pd.DataFrame  # the live boosts' hourly rows that ended by as_of
    track_record: Any = None  # models.track_record.TrackRecord, or None when not computed
    serving_version: str | None = None

    def view(self) -> MonitorView:
        """The report's view of this run."""
        record = self.track_record.to_dict() if self.track_record is not None else None
        return MonitorView(boosts=self.boosts, hourly=self.hourly, track_record=record)

    def table(self) -> pd.DataFrame:
        """The monitor's own columns (the CSV) with the advertiser's name beside its id, without the other
        display-only ones."""
        from models.monitor import OUTPUT_COLUMNS

        at = OUTPUT_COLUMNS.index("advertiser_id") + 1
        return self.boosts.reindex(columns=[*OUTPUT_COLUMNS[:at], "advertiser_name", *OUTPUT_COLUMNS[at:]])


def read_monitor_inputs(home: Home) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The contract tables (spark_hourly included, empty when never loaded) and the `scores` table."""
    with Warehouse(home.warehouse, read_only=True) as wh:
        tables = wh.contract_tables()
        tables.setdefault(HOURLY_TABLE, wh.read(HOURLY_TABLE))
        scores = wh.read(SCORES) if wh.has_table(SCORES) else pd.DataFrame()
    return tables, scores


def _display_columns(boosts: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The boosts with the advertiser's name, the creator's handle and the post's caption (hostile text:
    escaped where shown)."""
    posts = tables["posts"][["post_id", "creator_id", "caption"]].drop_duplicates("post_id")
    creators = tables["creators"][["creator_id", "handle"]].drop_duplicates("creator_id")
    extra = posts.merge(creators, on="creator_id", how="left").rename(columns={"handle": "creator_handle"})
    out = boosts.merge(extra[["post_id", "creator_handle", "caption"]], on="post_id", how="left")
    return name_advertisers(out, tables.get("advertisers"))


def assess_live_boosts(
    tables: dict[str, pd.DataFrame], scores: pd.DataFrame, as_of: pd.Timestamp, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per live boost with the monitor's columns, those boosts' hourly rows ended by `as_of`)."""
    from models import monitor
    from models.track_record import pick_time_predictions

    hourly = hours_ended_by(tables[HOURLY_TABLE], as_of).reset_index(drop=True)
    live = monitor.live_boosts(hourly, tables["spark_results"], as_of, settings.monitor.ended_after_idle_hours)
    seen = scores[pd.to_datetime(scores["as_of"]) <= as_of] if "as_of" in scores.columns else scores
    predictions = pick_time_predictions(live[["post_id", "boosted_at"]], seen)
    assessed = monitor.monitor_boosts(hourly, tables["spark_results"], tables["baselines"], tables["posts"],
                                      as_of, settings, predictions=predictions, advertisers=tables.get("advertisers"))
    live_hourly = (hourly.merge(live[["post_id", "boosted_at"]], on=["post_id", "boosted_at"], how="inner")
                   if len(hourly) else hourly)
    return assessed, live_hourly


def compute_track_record(
    tables: dict[str, pd.DataFrame], scores: pd.DataFrame, as_of: pd.Timestamp, settings: Settings,
    promised_coverage: float | None, promised_rank_correlation: float | None,
) -> Any:
    """The rolling track record over the last `monitor.track_record_days` (models/track_record.py)."""
    from models.track_record import summarise_track_record, track_record_rows

    cfg = settings.monitor
    seen = scores[pd.to_datetime(scores["as_of"]) <= as_of] if "as_of" in scores.columns else scores
    rows = track_record_rows(tables, seen, settings.label, as_of, cfg.track_record_days)
    return summarise_track_record(
        rows, as_of, cfg.track_record_days, promised_coverage, promised_rank_correlation,
        alpha=cfg.retrain_alpha, min_count=cfg.track_record_min_boosts,
    )


def run_monitor(
    home: Home, settings: Settings, as_of: pd.Timestamp | str | None = None, *, log_to_mlflow: bool = False
) -> MonitorRun:
    """Look at every live boost as of `as_of` (default now) and compute the model's track record.

    With `log_to_mlflow`, the track record is also recorded on the serving model version (the nightly run
    does this; an ad-hoc `sparkpick monitor` only reads).
    """
    moment = as_of_or_now(as_of)
    tables, scores = read_monitor_inputs(home)
    assessed, hourly = assess_live_boosts(tables, scores, moment, settings)
    boosts = _display_columns(assessed, tables) if len(assessed) else assessed
    uri = home.tracking_uri(settings)
    version, coverage, rank_correlation = None, settings.ranker.band_coverage, None
    if settings.mlflow.tracking_uri or home.has_model_store():
        from models import track_record_tags

        promises = track_record_tags.serving_promises(uri, settings.mlflow.model_name)
        version, rank_correlation = promises.version, promises.rank_correlation
        coverage = promises.band_coverage if promises.band_coverage is not None else coverage
    record = compute_track_record(tables, scores, moment, settings, coverage, rank_correlation)
    if log_to_mlflow and version is not None:
        track_record_tags.log_track_record(uri, settings.mlflow.model_name, version, record.metrics(), moment,
                                           track_record_sentence(record.to_dict()))
    return MonitorRun(as_of=moment, boosts=boosts.reset_index(drop=True), hourly=hourly, track_record=record,
                      serving_version=version)


def write_live_csv(run: MonitorRun, path: Path) -> Path:
    """The monitor's table as a CSV (the report's CSV writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, run.table())
    return path
