"""Advertisers by name: the optional `advertisers` table (contract check, warehouse upsert, demo world) and
names where a person reads them (HTML report, shortlist.csv, terminal), escaped, with the id as fallback."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from rich.console import Console

from flows.commands.nightly import _print_outcome
from sparkpick.config import Settings
from sparkpick.contract import SPECS, validate_frames
from sparkpick.report import render_shortlist_html, shortlist_csv_frame, write_report
from sparkpick.sources.demo.tables import generate_tables
from sparkpick.warehouse import Warehouse
from sparkpick.wording import name_advertisers
from tests.sparkpick.test_report import make_meta, make_shortlist

HOSTILE = 'Glow & Co <script>alert("x")</script> [bold red]=HYPERLINK("http://evil")'


def _advertisers(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["advertiser_id", "name", "currency", "timezone"])


def test_the_table_is_checked_like_every_table() -> None:
    raw = _advertisers([
        {"advertiser_id": "7000000000000000001", "name": "Glow & Co", "currency": "USD", "timezone": "Europe/Berlin"},
        {"advertiser_id": "7000000000000000002", "name": "Bad money", "currency": "dollars", "timezone": None},
        {"advertiser_id": "7000000000000000003", "name": "Bad clock", "currency": None, "timezone": "Mars/Olympus"},
        {"advertiser_id": "7000000000000000004", "name": None, "currency": "EUR", "timezone": "UTC"},
        {"advertiser_id": "7000000000000000001", "name": "Twice", "currency": "USD", "timezone": "UTC"},
    ])
    checked = validate_frames({"advertisers": raw}, {"advertisers": "advertisers.csv"})
    kept = checked.tables["advertisers"]
    assert kept["advertiser_id"].tolist() == ["7000000000000000001"]
    said = {(p.file, p.row, p.column): p.message for p in checked.problems}
    assert "ISO 4217" in said[("advertisers.csv", 2, "currency")]
    assert "IANA time zone" in said[("advertisers.csv", 3, "timezone")]
    assert ("advertisers.csv", 4, "name") in said
    assert "duplicate key" in said[("advertisers.csv", 5, "advertiser_id")]
    # optional: a source without the file is fine, and the columns currency and timezone may be left out
    only_names = validate_frames({"advertisers": raw[["advertiser_id", "name"]].iloc[:1]}, {})
    assert only_names.problems == [] and only_names.tables["advertisers"]["currency"].isna().all()


def test_the_warehouse_upserts_by_advertiser_id(tmp_path) -> None:
    first = _advertisers([{"advertiser_id": "7001", "name": "Old name", "currency": "USD", "timezone": "UTC"},
                          {"advertiser_id": "7002", "name": "Other", "currency": "EUR", "timezone": "UTC"}])
    renamed = _advertisers([{"advertiser_id": "7001", "name": "New name", "currency": "USD", "timezone": "UTC"}])
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        for frame in (first, renamed, renamed):
            wh.upsert(validate_frames({"advertisers": frame}, {}).tables)
        stored = wh.read("advertisers").set_index("advertiser_id")["name"].to_dict()
    assert stored == {"7001": "New name", "7002": "Other"}


def test_the_demo_world_names_its_advertisers(settings: Settings) -> None:
    world = generate_tables(settings.world, "tiny", 3)
    advertisers = world.contract()["advertisers"]
    assert list(advertisers.columns) == SPECS["advertisers"].column_names
    assert set(advertisers["advertiser_id"]) == set(world.posts["advertiser_id"])
    assert advertisers["name"].str.len().gt(0).all() and advertisers["name"].is_unique
    assert validate_frames({"advertisers": advertisers}, {}).problems == []


def test_names_are_shown_escaped_with_the_id_as_fallback(tmp_path) -> None:
    shortlist = make_shortlist()
    names = _advertisers([{"advertiser_id": "adv-1", "name": HOSTILE, "currency": None, "timezone": None},
                          {"advertiser_id": "adv-2", "name": "Leaf & Bean", "currency": None, "timezone": None}])
    named = name_advertisers(shortlist, names)
    assert list(named.columns[:2]) == ["advertiser_id", "advertiser_name"]
    assert named.groupby("advertiser_id")["advertiser_name"].first().to_dict() == {
        "adv-1": HOSTILE, "adv-2": "Leaf & Bean", "adv-3": ""}

    html = render_shortlist_html(named, make_meta(), {})
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Leaf &amp; Bean" in html
    assert "adv-3" in html  # no name known: its id is shown

    csv = shortlist_csv_frame(named).groupby("advertiser_id")["advertiser_name"].first().to_dict()
    assert csv == {"adv-1": HOSTILE, "adv-2": "Leaf & Bean", "adv-3": "adv-3"}
    paths = write_report(named, make_meta(), tmp_path / "reports", "2026-11-01")
    written = pd.read_csv(paths.csv, dtype=str)
    assert set(written["advertiser_name"]) == {"'" + HOSTILE if HOSTILE.startswith("=") else HOSTILE,
                                               "Leaf & Bean", "adv-3"}

    console = Console(file=io.StringIO(), record=True, width=160)
    _print_outcome(console, paths.folder)
    shown = console.export_text()
    assert f"Top picks for {HOSTILE}" in shown  # markup in a name is shown, not applied
    assert "Top picks for Leaf & Bean" in shown and "Top picks for advertiser adv-3" in shown


@pytest.mark.parametrize("advertisers", [None, _advertisers([])])
def test_without_the_table_every_advertiser_is_shown_by_id(advertisers) -> None:
    named = name_advertisers(make_shortlist(), advertisers)
    assert (named["advertiser_name"] == "").all()
    html = render_shortlist_html(named, make_meta(), {})
    assert all(f"adv-{a}" in html for a in (1, 2, 3))
