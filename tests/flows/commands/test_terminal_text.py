"""Outside text in the terminal (handles, advertiser names, reasons, a bad cell quoted in a problem or an error):
no escape sequence, bidi control or spoofing invisible character reaches the screen, and rich markup is shown
literally. The helper itself, then each command that prints such text, through the CLI."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from flows.cli import app
from flows.commands.nightly import _print_outcome
from flows.commands.terminal_text import shown, terminal_safe
from flows.ingest import ingest_folder
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from sparkpick.report import ReportMeta, write_report
from sparkpick.sources.demo.tables import generate_tables
from sparkpick.warehouse import Warehouse
from tests.entry_point import SPARKPICK
from tests.flows.test_monitor import HEADER, hourly_rows, store_scores
from tests.sparkpick.contract_folder import FILES, write_folder

REPO = Path(__file__).resolve().parents[3]
CLEAR, LINK, RLO = "\x1b[2J", "\x1b]8;;http://evil.example\x07", "\u202e"
MARKUP = "[bold red]markup[/]"
# A handle and an advertiser name as an attacker would write them.
HANDLE = f"@{LINK}li{CLEAR}{MARKUP}{RLO}kcat"
ADVERTISER = f"{CLEAR}Acme{RLO}{MARKUP}\x9b31m\u2066x\u2069"
FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}
UNSAFE = ("\x1b", "\x9b", "\x07", "\u202e", "\u2066", "\u2069")


def assert_safe(output: str, markup: str = MARKUP, quoted: bool = False) -> None:
    """Nothing a terminal would obey (the hyperlink's target gone with its sequence, unless the message also
    `quoted` the value with Python's escapes, which are plain text); the markup as written."""
    found = [repr(c) for c in (*UNSAFE, *(() if quoted else ("evil.example",))) if c in output]
    assert not found, f"{found} reached the terminal:\n{output}"
    assert markup in output, output


# --- the helper ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("\x1b[2Jhello", "hello"),  # clear screen: the whole sequence goes, not just ESC
    ("\x1b]8;;http://evil\x07click\x1b]8;;\x07", "click"),  # an OSC 8 hyperlink
    ("x\x1b]0;new title\x1b\\y", "xy"),  # a window title, ended by ST
    ("\x9b31mred", "red"),  # the one-byte CSI
    ("a\x00b\x7fc\x85d\x08e", "abc de"),  # C0, DEL, C1 (NEL is a line break: a space on one line)
    ("abc\u202edcba", "abcdcba"),  # right-to-left override
    ("\u2066inner\u2069 \u202aemb\u202c \u200fmark", "inner emb mark"),  # isolates, embeddings, marks
    ("pay\u200bpal\u200d\u2060\ufeff", "paypal"),  # zero-width characters that make names look alike
    ("\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F468\u200d\U0001F469\u200d\U0001F467"),  # a family emoji
    ("[bold red]markup[/]", "[bold red]markup[/]"),  # markup is left for `shown` to keep literal
    ("one\ntwo\r\nthree\tfour\rfive", "one two three four five"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    (None, ""), (float("nan"), ""), (pd.NA, ""), (pd.NaT, ""), (7300000000000000001, "7300000000000000001"),
])
def test_terminal_safe(raw: object, expected: str) -> None:
    assert terminal_safe(raw) == expected


def test_several_lines_keep_their_breaks_only() -> None:
    assert terminal_safe("Error: row 3\r\n  - bad \x1b[31mvalue\x1b[0m\tthere\u2028end", lines=True) == (
        "Error: row 3\n  - bad value\tthere\nend")


def test_an_unterminated_sequence_stops_at_the_line_end() -> None:
    assert terminal_safe("a\x1b]8;;http://evil\nnext line", lines=True) == "a\nnext line"


def test_shown_is_printed_literally_in_a_table() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system="standard")
    table = Table(title=shown(f"Top picks for {ADVERTISER}"))
    table.add_column("creator")
    table.add_row(shown(HANDLE, "bold"))
    console.print(table)
    text = out.getvalue()
    # A real terminal: rich writes its own styles (ESC sequences), but none of the text's own.
    assert "[bold red]markup[/]" in text and "Acme" in text and "kcat" in text
    assert CLEAR not in text and "\x07" not in text and RLO not in text and "evil.example" not in text
    assert "\x1b[1;31mmarkup" not in text  # the markup was not obeyed


# --- through the commands -----------------------------------------------------------------------------------

def test_monitor_shows_a_hostile_handle_as_text(tmp_path: Path, home: Home, settings: Settings) -> None:
    creators = FILES["creators.csv"].replace("c3,@li,", f'c3,"{HANDLE}",')
    folder = write_folder(tmp_path / "src", {"creators.csv": creators, "spark_hourly.csv": HEADER + hourly_rows(0, 30),
                                             "advertisers.csv": f'advertiser_id,name\nadv1,"{ADVERTISER}"\n'})
    ingest_folder(home, settings, folder)
    store_scores(home)
    result = CliRunner().invoke(app, ["--home", str(home.root), "monitor", "--as-of", "2026-04-21T16:00:00Z"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "@li" in result.output and "kcat" in result.output and "\nAcme[bold red]markup[/]x\n" in result.output
    assert_safe(result.output)


@pytest.fixture(scope="module")
def scored_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Settings]:
    """A small world whose first creator and advertiser carry hostile text, with a trained champion."""
    from flows.train import train_model
    from sparkpick.config import load_settings

    settings = with_overrides(load_settings(), FAST)
    home = Home.at(tmp_path_factory.mktemp("hostile") / "home").ensure()
    world = generate_tables(settings.world, "small", 7)
    tables = world.contract()
    creators = tables["creators"].copy()
    creators["handle"] = HANDLE  # every creator: whichever posts are picked, the handle is hostile
    advertisers = tables["advertisers"].copy()
    advertisers["name"] = ADVERTISER + advertisers["advertiser_id"].astype(str)  # names stay distinct
    with Warehouse(home.warehouse) as wh:
        wh.upsert({**tables, "creators": creators, "advertisers": advertisers})
    train_model(home, settings)
    return home, settings


@pytest.mark.slow
def test_score_shows_hostile_names_and_handles_as_text(scored_home: tuple[Home, Settings]) -> None:
    home, settings = scored_home
    result = CliRunner().invoke(app, ["--home", str(home.root), "score", "--as-of", str(settings.world.end),
                                      "--top", "2"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("Top 2"):]
    assert "Acme" in table and "kcat" in table
    assert_safe(table)


@pytest.mark.slow
def test_nightly_outcome_shows_hostile_names_and_handles_as_text(scored_home: tuple[Home, Settings],
                                                                 tmp_path: Path) -> None:
    # The table `sparkpick nightly` and `sparkpick demo` print, read back from the report the night wrote.
    from flows.train import score_candidates

    home, settings = scored_home
    as_of = pd.Timestamp(settings.world.end)
    scored = score_candidates(home, settings, as_of=as_of)
    meta = ReportMeta(as_of=as_of, ran_at=as_of, model_version="1", candidates_considered=len(scored),
                      polish_ad_threshold=settings.report.polish_ad_threshold, link_posts=False)
    paths = write_report(scored[scored["rank"] <= 3], meta, tmp_path / "reports", as_of.date())
    out = io.StringIO()
    _print_outcome(Console(file=out, width=300), paths.folder)
    printed = out.getvalue()
    assert "Top picks for" in printed and "Acme" in printed and "kcat" in printed
    assert_safe(printed)


def test_ingest_problems_quote_a_bad_row_as_text(tmp_path: Path, home: Home) -> None:
    # A metrics row for a post nobody knows: the problem names the row by its key, the hostile post id.
    post = f"99{CLEAR}{LINK}{RLO}{MARKUP}"
    metrics = FILES["metrics.csv"] + f'"{post}",2026-04-04T12:00:00Z,100,3,0,0,2.0,0.05,\n'
    folder = write_folder(tmp_path / "src", {"metrics.csv": metrics})
    # set aside (--skip-invalid): the problem lines the command prints
    result = CliRunner().invoke(app, ["--home", str(home.root), "ingest", "--source", f"local:{folder}",
                                      "--skip-invalid"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "problem(s) set aside" in result.output and "unknown post_id" in result.output
    assert "(post_id 99[bold red]markup[/]," in result.output  # the key, shown as it reads
    assert_safe(result.output, quoted=True)
    # refused: the error the entry point prints, through the launcher as a user starts it
    done = subprocess.run(
        [SPARKPICK, "--home", str(tmp_path / "other"), "ingest", "--source",
         f"local:{folder}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "unknown post_id" in done.stderr and "Traceback" not in done.stderr
    assert_safe(done.stderr, quoted=True)


def test_video_features_names_a_hostile_file_as_text(tmp_path: Path) -> None:
    video = tmp_path / f"clip{CLEAR}\x1b]0;evil.example\x07{RLO}[bold red]markup.mp4"  # no "/" in a name
    video.write_bytes(b"not a video at all" * 10)
    result = CliRunner().invoke(app, ["video-features", str(video)], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert "clip" in result.output and "failed" in result.output
    assert_safe(result.output, markup="[bold red]markup.mp4", quoted=True)  # the decoder quotes the name


@pytest.mark.slow
def test_score_reads_at_80_columns_with_long_advertiser_names(scored_home: tuple[Home, Settings]) -> None:
    """One table per advertiser: a long name is a title line, so rank, post and reason keep their width."""
    home, settings = scored_home
    result = CliRunner().invoke(app, ["--home", str(home.root), "score", "--as-of", str(settings.world.end),
                                      "--top", "2", "--out", str(home.root / "s.csv")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    shortlist = pd.read_csv(home.root / "s.csv", dtype={"post_id": str, "advertiser_id": str})
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    for row in shortlist.to_dict("records"):
        assert any(row["post_id"] in line for line in lines), row["post_id"]  # a whole id, never squeezed away
        assert any(line.lstrip("│ ").startswith(f"{row['rank']} ") for line in lines)
        first_words = " ".join(str(row["reason_1"]).split()[:2])
        assert first_words in result.output, first_words
    # the whole (made safe) name is the table's title, once per advertiser
    assert result.output.count(f"Top 2 for {terminal_safe(ADVERTISER)}") == shortlist["advertiser_id"].nunique()
