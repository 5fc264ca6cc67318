"""Partnerships (`sparkpick.sources.tiktok.partnerships`): the local table that overrides what the API cannot
know, and the file it is read from (`--partnerships FILE`, `tiktok.partnerships_file`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sparkpick.config import Settings
from sparkpick.errors import InputError
from sparkpick.sources.tiktok import TikTokClient, fetch_tables, read_partnerships
from tests.sparkpick.sources.tiktok.fake_server import ADV, AS_OF_UTC, BRAND, CREATOR


def test_partnerships_override_grants_usage_rights(client: TikTokClient, cfg: Settings) -> None:
    override = pd.DataFrame([{"advertiser_id": ADV, "creator_id": CREATOR, "kind": "ongoing",
                              "started_at": pd.Timestamp("2026-01-15"), "usage_rights": True}])
    result = fetch_tables(client, cfg, AS_OF_UTC, partnerships=override)
    row = result.tables["partnerships"].set_index("creator_id").loc[CREATOR]
    assert row["usage_rights"] and row["kind"] == "ongoing" and row["started_at"] == pd.Timestamp("2026-01-15")


# -- the partnerships file ---------------------------------------------------------------------------------------------
HEADER = "advertiser_id,creator_id,kind,started_at,usage_rights\n"


SAM = "6911111111111111111"  # a creator known only from the advertiser's Spark authorisations


ELSEWHERE = "7000000000000000002"  # an advertiser the config does not name


def _file(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def test_partnerships_file_is_read_as_csv_or_parquet(tmp_path: Path, cfg: Settings) -> None:
    csv = _file(tmp_path / "partnerships.csv", f"{ADV},{CREATOR},ongoing,2026-01-15,true",
                f"{ADV},{SAM},one_off,2026-03-01T09:00:00+02:00,FALSE")
    read = read_partnerships(csv, cfg.tiktok)
    assert read["creator_id"].tolist() == [CREATOR, SAM]
    assert read["usage_rights"].tolist() == [True, False]
    assert read["started_at"].tolist() == [pd.Timestamp("2026-01-15"), pd.Timestamp("2026-03-01T07:00")]
    parquet = tmp_path / "partnerships.parquet"
    pd.read_csv(csv, dtype=str).to_parquet(parquet)
    pd.testing.assert_frame_equal(read_partnerships(parquet, cfg.tiktok), read)


def test_a_bad_partnerships_file_names_file_row_and_column(tmp_path: Path, cfg: Settings) -> None:
    path = _file(
        tmp_path / "contracts.csv",
        f"{ADV},{CREATOR},forever,2026-01-15,true",
        f"{ADV},{BRAND},own,2026-01-15,sometimes",
        f"{ELSEWHERE},{CREATOR},ongoing,2026-01-15,true",
        f"{ADV},{SAM},ongoing,last spring,true",
    )
    with pytest.raises(InputError) as err:
        read_partnerships(path, cfg.tiktok)
    message = str(err.value)
    assert f"Partnerships file {path} has 4 problem(s)" in message
    for expected in (
        f"{path}, row 1, line 2 (advertiser_id {ADV}, creator_id {CREATOR}), column 'kind': 'forever' is not "
        "one of own, ongoing, one_off",
        f"{path}, row 2, line 3 (advertiser_id {ADV}, creator_id {BRAND}), column 'usage_rights': 'sometimes' "
        "is not a boolean",
        f"{path}, row 3, line 4 (advertiser_id {ELSEWHERE}, creator_id {CREATOR}), column 'advertiser_id': "
        f"unknown advertiser_id '{ELSEWHERE}'",
        f"{path}, row 4, line 5 (advertiser_id {ADV}, creator_id {SAM}), column 'started_at': unparseable time",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("absent.csv", None, "does not exist"),
        ("contracts.xlsx", HEADER, "must be a .csv or .parquet file"),
        ("contracts.parquet", "not parquet at all", "cannot be read"),
        ("contracts.csv", f"advertiser_id,creator_id,kind,started_at\n{ADV},{CREATOR},ongoing,2026-01-15\n",
         "column 'usage_rights': required column is missing"),
    ],
)
def test_an_unusable_partnerships_file_is_named(
    tmp_path: Path, cfg: Settings, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="Partnerships file") as err:
        read_partnerships(path, cfg.tiktok)
    assert str(path) in str(err.value) and expected in str(err.value)
