"""The partnerships of a TikTok fetch: contracts the API does not know, and the file that supplies them.

Usage rights live in the creator's contract, not in the API. `read_partnerships` reads and checks a local
partnerships file before any request; `partnership_table` builds one row per advertiser and creator pair
seen in the fetched posts (own account: kind "own" with usage rights; anyone else: the configured default
kind, no usage rights) and lets the file's rows override kind, start and usage rights per pair.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from sparkpick.config import TiktokConfig
from sparkpick.contract import (
    PARTNERSHIPS,
    SPECS,
    as_utc,
    key_text,
    problem_list,
    typed_frame,
    unknown_ids,
    validate_table,
)
from sparkpick.errors import InputError
from sparkpick.sources.local import TABLE_SUFFIXES, read_table_file
from sparkpick.sources.tiktok.records import Gathered


def configured_advertisers(cfg: TiktokConfig) -> set[str]:
    """Every advertiser id the config names (ad accounts and the advertisers of business accounts)."""
    return set(cfg.advertiser_ids) | set(cfg.account_advertisers.values())


def read_partnerships(path: Path, cfg: TiktokConfig) -> pd.DataFrame:
    """Read and check a partnerships file (CSV or Parquet in the contract's partnerships columns).

    Every problem names the file, the row and the column: a missing column, an unknown `kind`, a boolean
    that is not true/false, an unparseable time, a pair listed twice, an advertiser the config does not
    name. Creator ids can only be checked once the API has said which creators exist: `fetch_tables`
    reports and skips a row whose creator it did not return. Raises `InputError`; returns the typed rows,
    indexed by their position in the file.
    """
    if not path.is_file():
        raise InputError(f"Partnerships file {path} does not exist.")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"Partnerships file {path} must be a {' or '.join(TABLE_SUFFIXES)} file.")
    try:
        raw = read_table_file(path)
    except Exception as exc:  # a damaged file is the user's to fix, not a crash
        raise InputError(f"Partnerships file {path} cannot be read: {exc}") from exc
    without_creator_check = replace(PARTNERSHIPS, references=())
    typed, problems, _ = validate_table(without_creator_check, raw, str(path), None, {})
    if "advertiser_id" in typed.columns:
        problems += unknown_ids(
            typed, "advertiser_id", configured_advertisers(cfg),
            "not in tiktok.advertiser_ids or tiktok.account_advertisers", str(path), key_text(PARTNERSHIPS, typed),
        )
    if problems:
        raise InputError(
            f"Partnerships file {path} has {len(problems)} problem(s); nothing was written to the warehouse.\n"
            f"{problem_list(sorted(problems, key=lambda p: p.row or 0))}"
        )
    return typed


def partnership_table(got: Gathered, cfg: TiktokConfig, override: pd.DataFrame | None) -> pd.DataFrame:
    first_post: dict[tuple[str, str], pd.Timestamp] = {}
    for post in got.posts.values():
        key = (post["advertiser_id"], post["creator_id"])
        first_post[key] = min(first_post.get(key, post["posted_at"]), post["posted_at"])
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (advertiser, creator), started in first_post.items():
        own = bool(got.creators[creator]["is_brand_account"])
        rows[(advertiser, creator)] = {
            "advertiser_id": advertiser, "creator_id": creator, "started_at": started,
            "kind": "own" if own else cfg.default_partnership_kind, "usage_rights": own,
        }
    if override is not None and len(override):
        for rec in override.to_dict("records"):
            key = (str(rec.get("advertiser_id")), str(rec.get("creator_id")))
            if key[1] not in got.creators:
                got.skip("partnerships", f"{key[0]}/{key[1]}",
                         "the partnerships file names a creator the API did not return this time "
                         "(not yet authorised?): row ignored until it does")
                continue
            merged = rows.get(key, {"advertiser_id": key[0], "creator_id": key[1]})
            for col in ("kind", "started_at", "usage_rights"):
                if col in rec and not pd.isna(rec[col]):
                    merged[col] = as_utc(rec[col]) if col == "started_at" else rec[col]
            rows[key] = merged
    else:
        creators_without = sum(1 for r in rows.values() if not r["usage_rights"])
        if creators_without:
            got.notes.append(
                f"usage_rights set to false for {creators_without} creator partnership(s): the API does not "
                "know contracts; supply a partnerships table to say which ones allow Spark Ads"
            )
    return typed_frame(SPECS["partnerships"], list(rows.values()))
