"""What a marketer reads carries no internal names, log ratios or bare fractions: every reason of a scored
small world, the HTML report's text, and the terminal shortlists of `sparkpick score` and the nightly run."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from features.matrix import FEATURE_DESCRIPTIONS, describe_feature
from features.video import VIDEO_PREFIX
from features.video.cues.catalogue import CUE_NAMES
from flows.cli import app
from flows.commands.nightly import _print_outcome
from flows.train import score_candidates, train_model
from models.explain import reason_text
from sparkpick.config import Settings, with_overrides
from sparkpick.home import Home
from sparkpick.report import ReportMeta, write_report
from sparkpick.sources.demo.tables import generate_tables
from sparkpick.warehouse import Warehouse

FAST = {"ranker": {"bags": 2, "params": {"n_estimators": 80, "num_leaves": 7, "min_child_samples": 5, "n_jobs": 1},
                   "early_stopping_rounds": 15}}
# A number below one with decimals that is not a percentage, a "1.7x" ratio or a length in seconds.
BARE_FRACTION = re.compile(r"(?<![\w.])0\.\d+(?!\d|\s*(?:%|x\b|s\b|cuts per))")
INTERNAL = sorted({*FEATURE_DESCRIPTIONS, *(f"{VIDEO_PREFIX}{c}" for c in CUE_NAMES), "predicted_uplift",
                   "uplift_ratio", "polish_score", "creator_prior_uplift", "advertiser_id"}, key=len, reverse=True)


def problems(text: str) -> list[str]:
    """What a marketer should not read in `text`."""
    found = [name for name in INTERNAL if name in text]
    found += [f"log: {m.group(0)!r}" for m in re.finditer(r"\blog\b", text, flags=re.IGNORECASE)]
    found += [f"fraction {m.group(0)!r}" for m in BARE_FRACTION.finditer(text)]
    return found


def visible_text(page: str) -> str:
    """The text of an HTML page a reader sees (no markup, scripts, styles or attribute values)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_scanner_catches_what_it_should() -> None:
    assert problems("creator's average uplift on earlier Spark Ads (log cost ratio): 0.557")
    assert problems("shares per view: 0.43 (helps)") and problems("share_rate: 4%")
    assert not problems("this creator's earlier Spark Ads came at 0.57x your in-feed cost (helps)")
    assert not problems("shares per view: 0.43%, top 3% of candidates; shots of 0.8 s; 0.9x; 0.5 cuts per 10 s")


@pytest.mark.parametrize("value", [0.0, 0.043, 0.43, 0.557, -0.4, 1.0, 2.5, 12.0, 1234.5, float("nan")])
def test_every_feature_reads_plainly_at_any_value(value: float) -> None:
    features = [*FEATURE_DESCRIPTIONS, *(f"{VIDEO_PREFIX}{c}" for c in CUE_NAMES), "video_duration_s",
                "video_polish_score"]
    descriptions = {f: describe_feature(f) for f in features}
    for feature in features:
        for percentile in (None, 0.03, 0.5, 0.97):
            text = reason_text(feature, value, 0.1 if value > 0 else -0.1, descriptions, percentile)
            assert not problems(text), (feature, text)


def test_headline_example_reads_as_a_cost_comparison() -> None:
    descriptions = {"creator_prior_uplift": describe_feature("creator_prior_uplift")}
    assert reason_text("creator_prior_uplift", 0.557, 0.2, descriptions) == (
        "this creator's earlier Spark Ads came at 0.57x your in-feed cost (helps)")
    assert reason_text("creator_prior_uplift", math.log(0.5), -0.2, descriptions) == (
        "this creator's earlier Spark Ads came at 2.0x your in-feed cost (holds it back)")


def test_a_scored_world_reads_plainly(home: Home, settings: Settings, tmp_path: Path) -> None:
    fast = with_overrides(settings, FAST)
    world = generate_tables(fast.world, "small", 7)
    with Warehouse(home.warehouse) as wh:
        wh.upsert(world.contract())
    train_model(home, fast)
    as_of = pd.Timestamp(fast.world.end)
    scored = score_candidates(home, fast, as_of=as_of)
    reasons = scored[[c for c in scored.columns if c.startswith("reason_")]].to_numpy().ravel()
    reasons = [r for r in reasons if isinstance(r, str) and r]
    assert len(reasons) > 3 * len(scored) * 0.9
    bad = {r: problems(r) for r in reasons if problems(r)}
    assert not bad, list(bad.items())[:10]
    # reasons name many different things, each said plainly (not one template repeated)
    assert len({r.split(":")[0] for r in reasons}) >= 8

    shortlist = scored[scored["rank"] <= 5]
    meta = ReportMeta(as_of=as_of, ran_at=as_of, model_version="1", candidates_considered=len(scored),
                      polish_ad_threshold=fast.report.polish_ad_threshold, link_posts=False)
    paths = write_report(shortlist, meta, tmp_path / "reports", as_of.date())
    text = visible_text(paths.html.read_text())
    assert "your in-feed cost" in text
    assert not problems(text), problems(text)[:10]
    csv = pd.read_csv(paths.csv)
    for col in ("uplift_text", "reason_1", "reason_2", "reason_3"):
        for value in csv[col].dropna():
            assert not problems(value), (col, value)

    console = Console(record=True, width=200)
    _print_outcome(console, paths.folder)
    nightly = console.export_text()
    assert "Top picks" in nightly and not problems(nightly), problems(nightly)
    result = CliRunner().invoke(app, ["--home", str(home.root), "score", "--as-of", str(as_of), "--top", "3"],
                                catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    terminal = result.output
    assert "Downloading artifacts" not in terminal  # MLflow's progress bar stays off the user's terminal
    # the run line names the run and the table's ids; the table itself reads plainly
    table = terminal[terminal.index("Top 3"):]
    assert not problems(table), problems(table)[:10]
    assert np.isfinite(scored["uplift_ratio"]).all()
