"""The shortlist report: what the page shows (its views and visible text), escaping, files, and the page in a
real headless browser. Its words are tested in test_wording.py."""

from __future__ import annotations

import contextlib
import html as html_module
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pandas as pd
import pytest

from sparkpick.report import (
    MonitorView,
    ReportMeta,
    data_uri,
    delivery_chart,
    live_views,
    post_link,
    render_shortlist_html,
    shortlist_views,
    write_report,
)
from tests.browser import ARTIFACTS, console_errors, dump_dom, require_chromium, screenshot

AS_OF = pd.Timestamp("2026-11-01 01:00")
EVIL = '<script>window.__pwned = 1; document.title = "PWNED"</script><b>bold</b> & "quotes"'


def make_thumbnail(seed: int) -> bytes:
    """A real JPEG: a coloured gradient with a shape, 9:16 like a phone video's first frame."""
    rng = np.random.default_rng(seed)
    h, w = 320, 180
    base = rng.integers(40, 200, size=3)
    grad = np.linspace(0, 1, h)[:, None, None] * np.array([60, 40, 90])[None, None, :]
    img = np.clip(base[None, None, :] + grad + np.zeros((h, w, 3)), 0, 255).astype(np.uint8)
    cv2.circle(img, (int(rng.integers(40, 140)), int(rng.integers(60, 260))), 34, (240, 240, 240), -1)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def make_shortlist(advertisers: int = 3, k: int = 4, seed: int = 0) -> pd.DataFrame:
    """A shortlist with the columns `score_candidates` returns, built by hand."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(advertisers):
        for rank in range(1, k + 1):
            views = int(rng.integers(2_000, 900_000))
            likes, comments, shares = int(views * 0.08), int(views * 0.004), int(views * 0.01)
            ratio = float(np.round(2.4 / rank + rng.normal(0, 0.05), 3)) if rank < k else 0.72
            rows.append({
                "advertiser_id": f"adv-{a + 1}",
                "post_id": f"p{a}{rank:03d}",
                "rank": rank,
                "score": 1.0 / rank,
                "predicted_uplift": np.log(ratio),
                "uplift_ratio": ratio,
                "uplift_low": np.log(ratio * 0.7),
                "uplift_high": np.log(ratio * 1.3),
                "uplift_ratio_low": ratio * 0.7,
                "uplift_ratio_high": ratio * 1.3,
                "model_version": "3",
                "run_id": "abc123",
                "as_of": AS_OF,
                "reason_1": "Shares per view in the top 5% of this creator's posts",
                "reason_2": "Reads as native: one handheld take, no text overlays",
                "reason_3": "Creator posts about the brand every week",
                "flag_no_auth_code": rank == 2,
                "flag_auth_expiring": rank == 3 and a == 0,
                "flag_no_usage_rights": rank == 4,
                "flag_calibrating": rank == 1 and a == 1,
                "creator_handle": f"creator_{a}_{rank}",
                "posted_at": AS_OF - pd.Timedelta(hours=30 + 20 * rank),
                "caption": EVIL if (a, rank) == (0, 1) else f"Trying the new serum, day {rank} #skincare",
                "views": views,
                "likes": likes,
                "comments": comments,
                "shares": shares,
                "engagement_rate": (likes + comments + shares) / views,
                "video_status": "ok",
                "polish_score": 80.0 if rank == 3 else 20.0 + rank,
                "flag_looks_like_ad": rank == 3,
                "polish_reasons": "hard cuts, text overlays" if rank == 3 else "one handheld take",
                "thumbnail_path": None,
            })
    return pd.DataFrame(rows)


def make_meta(**over: object) -> ReportMeta:
    values: dict = {
        "as_of": AS_OF.to_pydatetime(), "ran_at": datetime(2026, 11, 1, 1, 4), "model_version": "3",
        "candidates_considered": 412, "polish_ad_threshold": 65.0, "top_k": 4, "source": "demo",
        "failures": ("post p9: video could not be decoded (moov atom not found)",),
        "display_timezone": "Europe/Amsterdam",
    }
    values.update(over)
    return ReportMeta(**values)


def test_post_link_only_for_real_tiktok_ids() -> None:
    assert post_link({"post_id": "7301234567890123456", "creator_handle": "@ann"}) == (
        "https://www.tiktok.com/@ann/video/7301234567890123456"
    )
    assert post_link({"post_id": "p001", "creator_handle": "ann"}) is None
    assert post_link({"post_id": "p001", "post_url": "https://vm.tiktok.com/x"}) == "https://vm.tiktok.com/x"
    assert post_link({"post_id": "p001", "post_url": "javascript:alert(1)"}) is None


def test_data_uri_rejects_non_images() -> None:
    assert data_uri(make_thumbnail(1)).startswith("data:image/jpeg;base64,")
    assert data_uri(b"<svg onload=alert(1)>") is None


# -- the page --------------------------------------------------------------------------------------------
def visible(page: str) -> str:
    """The text a reader of the page sees (no markup, scripts, styles or attribute values), spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_html_escapes_post_text_and_shows_every_pick() -> None:
    shortlist = make_shortlist()
    html = render_shortlist_html(shortlist, make_meta(), {})
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned" in html
    # Exactly one script element: the page's own.
    assert html.count("<script>") == 1
    views = shortlist_views(shortlist, make_meta(), {})
    assert [v["post_id"] for v in views] == shortlist.sort_values(["advertiser_id", "rank"])["post_id"].tolist()
    text = visible(html)
    for v in views:
        assert v["post_id"] in text and v["uplift_text"] in text
    assert views[0]["uplift_text"] == "Each conversion should cost about 0.42x your in-feed cost."
    assert views[3]["uplift_text"] == "Each conversion should cost about 1.4x your in-feed cost."  # rank 4: 0.72


BIDI = ("\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u200b", "\x1b")


def test_html_neutralises_bidi_controls_and_invisible_characters() -> None:
    # "@\u202egnp.exe" reads as "@exe.png" where the override is obeyed: every value the page prints is shown
    # as it is, in the shortlist and on the live-boost cards (the terminal does the same, one shared rule).
    shortlist = make_shortlist(advertisers=1, k=2).assign(
        creator_handle="\u202egnp.exe", caption="pay\u2067 here\u2069 \u200bnow \x1b[2J",
        advertiser_name="Brand\u202d One")
    monitor = make_monitor()
    monitor = MonitorView(boosts=monitor.boosts.assign(creator_handle="\u202egnp.exe"), hourly=monitor.hourly,
                          track_record=monitor.track_record)
    html = render_shortlist_html(shortlist, make_meta(), {}, monitor=monitor)
    assert not any(char in html for char in BIDI)
    assert "gnp.exe" in html and "pay here now" in html and "Brand One" in html


def test_html_shows_flags_reasons_and_header() -> None:
    shortlist = make_shortlist()
    html = render_shortlist_html(shortlist, make_meta(), {})
    for label in ("No auth code", "Code expiring", "No usage rights", "Looks like an ad", "Calibrating"):
        assert label in html
    assert "Shares per view in the top 5%" in html
    text = visible(html)
    assert "412" in text and "Model 3" in text
    assert "1 thing failed" in text and "moov atom not found" in text
    # Times in the configured zone: 01:00 UTC is 02:00 in Amsterdam in November.
    assert "2026-11-01 02:00 CET" in text


def test_looks_like_ad_is_shown_as_decided_not_redecided() -> None:
    # The flag comes with the scores (features/readiness.py); the threshold in the meta is only explained.
    shortlist = make_shortlist(advertisers=1)
    for threshold in (10.0, 90.0):
        meta = make_meta(polish_ad_threshold=threshold)
        flagged = [v for v in shortlist_views(shortlist, meta, {}) if "Looks like an ad" in
                   [f["label"] for f in v["flags"]]]
        assert [v["rank"] for v in flagged] == [3]  # as decided with the scores
        assert f'Above {threshold:.0f} it is flagged "Looks like an ad".' in visible(render_shortlist_html(shortlist, meta, {}))


def test_missing_optional_columns_still_render() -> None:
    shortlist = make_shortlist(advertisers=1).drop(
        columns=["uplift_low", "uplift_high", "uplift_ratio_low", "uplift_ratio_high", "reason_3",
                 "flag_calibrating", "polish_score"]
    )
    html = render_shortlist_html(shortlist, make_meta(failures=()), {})
    assert "Nothing failed" in html
    assert "Likely range" not in html


def test_promising_posts_that_cannot_run_are_listed_apart_with_what_frees_them() -> None:
    shortlist = make_shortlist(advertisers=1)
    others = make_shortlist(advertisers=1, k=3).assign(
        post_id=["7300000000000000901", "7300000000000000902", "7300000000000000903"],
        status=["blocked", "blocked", "boosted_before"], held_back=[True, False, False], boost_again=False,
        flag_no_auth_code=[True, True, False], flag_auth_expiring=False, flag_no_usage_rights=[True, False, False],
        flag_looks_like_ad=False, flag_calibrating=False, uplift_ratio=1.5)
    html = " ".join(render_shortlist_html(shortlist, make_meta(), {}, others=others).split())
    assert ("Left out of the shortlist: 1 was boosted before and take no fresh slot and 2 cannot be boosted yet"
            in html)
    assert ("post 7300000000000000901: Worth a slot once it can run: Ask the creator for a Spark authorisation "
            "code; agree Spark usage rights with the creator. Predicted: 0.67x your in-feed cost") in html
    assert "7300000000000000902: Worth a slot" not in html  # blocked, but not promising enough to ask about


def test_empty_shortlist_renders_a_message() -> None:
    html = render_shortlist_html(make_shortlist().iloc[:0], make_meta(), {})
    assert "No candidates to shortlist" in html


def test_write_report_is_idempotent_and_latest_tracks_newest(tmp_path: Path) -> None:
    shortlist = make_shortlist()
    thumbs = {pid: make_thumbnail(i) for i, pid in enumerate(shortlist["post_id"])}
    reports = tmp_path / "reports"
    first = write_report(shortlist, make_meta(), reports, "2026-11-01", thumbnails=thumbs)
    again = write_report(shortlist, make_meta(), reports, "2026-11-01", thumbnails=thumbs)
    assert first.html.read_bytes() == again.html.read_bytes()
    assert sorted(p.name for p in first.folder.iterdir()) == ["report.json", "shortlist.csv", "shortlist.html"]
    csv = pd.read_csv(first.csv)
    assert len(csv) == len(shortlist)
    assert csv["flag_looks_like_ad"].sum() == (shortlist["polish_score"] > 65).sum()
    assert csv["uplift_text"].str.startswith("Each conversion should cost about").all()
    html = first.html.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == len(shortlist)
    assert not re.search(r'(src|href)="(https?:)?//', html.replace('href="https://www.tiktok.com', ""))

    latest = reports / "latest" / "shortlist.html"
    assert latest.read_bytes() == first.html.read_bytes()
    newer = write_report(shortlist.iloc[:3], make_meta(ran_at=datetime(2026, 11, 2, 1, 4)), reports, "2026-11-02",
                         thumbnails=thumbs)
    assert (reports / "latest" / "shortlist.csv").read_bytes() == newer.csv.read_bytes()
    # A night that ran before the one latest shows (a slow night finishing after a later one) leaves it.
    slower = write_report(shortlist, make_meta(), reports, "2026-11-01", thumbnails=thumbs)
    assert slower.latest is None
    assert (reports / "latest" / "shortlist.csv").read_bytes() == newer.csv.read_bytes()


def test_latest_follows_the_newest_night_run_not_the_newest_as_of_date(tmp_path: Path) -> None:
    # A night once run as of 9999-12-31 (or a typo such as 2062) pinned latest for good.
    shortlist, reports = make_shortlist(), tmp_path / "reports"
    write_report(shortlist, make_meta(ran_at=datetime(2026, 11, 1, 1, 4)), reports, "9999-12-31", thumbnails={})
    real = write_report(shortlist.iloc[:3], make_meta(ran_at=datetime(2026, 11, 2, 1, 4)), reports, "2026-11-02",
                        thumbnails={})
    assert real.latest is not None
    assert (reports / "latest" / "shortlist.csv").read_bytes() == real.csv.read_bytes()
    # A backfill run later is the newest night run: latest shows it (its header says how far back it is).
    backfill = write_report(shortlist, make_meta(ran_at=datetime(2026, 11, 3, 1, 4)), reports, "2026-10-01",
                            thumbnails={})
    assert (reports / "latest" / "shortlist.csv").read_bytes() == backfill.csv.read_bytes()


def test_a_kill_while_latest_is_swapped_never_leaves_it_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import sparkpick.report.files as report

    shortlist, reports = make_shortlist(), tmp_path / "reports"
    write_report(shortlist, make_meta(), reports, "2026-11-01", thumbnails={})
    real_replace = os.replace
    for kill_at in range(6):  # a kill at each rename: the report's own files, then latest's
        calls = {"n": 0}

        def killed(src: object, dst: object, at: int = kill_at, count: dict = calls) -> None:
            if count["n"] == at:
                raise KeyboardInterrupt("killed")
            count["n"] += 1
            real_replace(src, dst)  # type: ignore[arg-type]

        monkeypatch.setattr(report.os, "replace", killed)
        ran = make_meta(ran_at=datetime(2026, 11, 2, 1, kill_at))
        with contextlib.suppress(KeyboardInterrupt):
            write_report(shortlist.iloc[:kill_at + 1], ran, reports, "2026-11-02", thumbnails={})
        assert (reports / "latest" / "shortlist.html").is_file() and (reports / "latest" / "report.json").is_file()
    monkeypatch.setattr(report.os, "replace", real_replace)
    done = write_report(shortlist.iloc[:2], make_meta(ran_at=datetime(2026, 11, 3)), reports, "2026-11-02",
                        thumbnails={})
    assert (reports / "latest" / "shortlist.csv").read_bytes() == done.csv.read_bytes()
    assert sorted(p.name for p in reports.iterdir()) == ["2026-11-01", "2026-11-02", "latest"]


def test_the_hidden_copies_a_killed_swap_left_are_swept(tmp_path: Path) -> None:
    import shutil

    # As older versions left a home killed between their two renames: no latest, two hidden full copies.
    shortlist, reports = make_shortlist(), tmp_path / "reports"
    first = write_report(shortlist, make_meta(), reports, "2026-11-01", thumbnails={})
    (reports / "latest").unlink()
    shutil.copytree(first.folder, reports / ".latest.4242.tmp")
    shutil.copytree(first.folder, reports / ".latest.4242.old")
    write_report(shortlist, make_meta(ran_at=datetime(2026, 11, 2)), reports, "2026-11-02", thumbnails={})
    assert sorted(p.name for p in reports.iterdir()) == ["2026-11-01", "2026-11-02", "latest"]
    # A latest that is a full copy (older versions) becomes the link, and the copy goes.
    (reports / "latest").unlink()
    shutil.copytree(first.folder, reports / "latest")
    write_report(shortlist, make_meta(ran_at=datetime(2026, 11, 3)), reports, "2026-11-02", thumbnails={})
    assert sorted(p.name for p in reports.iterdir()) == ["2026-11-01", "2026-11-02", "latest"]
    assert (reports / "latest").is_symlink() and (reports / "latest" / "shortlist.html").is_file()


def test_write_report_reads_thumbnail_files(tmp_path: Path) -> None:
    shortlist = make_shortlist(advertisers=1, k=2)
    paths = []
    for i, pid in enumerate(shortlist["post_id"]):
        p = tmp_path / f"{pid}.jpg"
        p.write_bytes(make_thumbnail(i))
        paths.append(str(p))
    paths[1] = str(tmp_path / "missing.jpg")
    shortlist = shortlist.assign(thumbnail_path=paths)
    out = write_report(shortlist, make_meta(), tmp_path / "reports", "2026-11-01")
    html = out.html.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == 1
    assert "no<br>thumbnail" in html


def test_bad_report_date_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        write_report(make_shortlist(), make_meta(), tmp_path, "../../etc")


# -- the page in a real browser --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def written_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shortlist = make_shortlist()
    thumbs = {pid: make_thumbnail(i) for i, pid in enumerate(shortlist["post_id"])}
    out = write_report(shortlist, make_meta(), tmp_path_factory.mktemp("r"), "2026-11-01", thumbnails=thumbs)
    return out.html


def _visible_rows(dom: str) -> list[str]:
    return re.findall(r'<tr class="pick[^"]*" data-adv="([^"]+)"', dom)


def test_report_in_headless_chromium(written_report: Path) -> None:
    browser = require_chromium()
    dom, log = dump_dom(browser, written_report.as_uri())
    assert 'data-js="ready"' in dom, "the page's script did not finish"
    assert console_errors(log) == []
    assert len(re.findall(r'<tr class="pick', dom)) == 12
    assert "window.__pwned" in dom and "&lt;script&gt;window.__pwned" in dom
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom).group(1)
    assert "12 of 12 posts" in dom
    shot = screenshot(browser, written_report.as_uri(), ARTIFACTS / "report" / "shortlist.png")
    assert shot.stat().st_size > 20_000


def test_report_filters_and_sorts_in_chromium(written_report: Path) -> None:
    browser = require_chromium()
    dom, log = dump_dom(browser, written_report.as_uri() + "#adv=adv-2&sort=-ratio")
    assert console_errors(log) == []
    assert "4 of 12 posts" in dom
    hidden = re.findall(r'<tr class="pick[^"]*hidden[^"]*" data-adv="([^"]+)"', dom)
    assert sorted(set(hidden)) == ["adv-1", "adv-3"]
    ratios = [float(x) for x in re.findall(r'data-adv="adv-2" data-rank="\d+" data-posted="[^"]*" '
                                            r'data-views="[^"]*" data-ratio="([^"]+)"', dom)]
    assert ratios == sorted(ratios, reverse=True) and len(ratios) == 4

    dom, _ = dump_dom(browser, written_report.as_uri() + "#flag=flag_no_auth_code")
    assert "3 of 12 posts" in dom
    screenshot(browser, written_report.as_uri() + "#flag=flag_no_auth_code",
               ARTIFACTS / "report" / "shortlist-filtered.png", size=(1440, 900))


# -- live boosts and the track record ----------------------------------------------------------------------
def make_monitor(problem: str | None = None, retrain: bool = False) -> MonitorView:
    """Four live boosts, one per decision, with hourly rows; one carries hostile text everywhere."""
    rows, hourly = [], []
    for i, decision in enumerate(("too_early", "keep", "scale", "pause")):
        hours = 6 + 12 * i
        boosted = AS_OF - pd.Timedelta(hours=hours)
        spend = np.full(hours, 9.0 + i)
        conv = np.zeros(hours, dtype=int)
        conv[2::5] = 1
        rows.append({
            "advertiser_id": "adv-1" if i < 2 else "adv-2", "advertiser_name": "Brand <One>" if i < 2 else "",
            "post_id": f"live{i}", "boosted_at": boosted,
            "as_of": AS_OF, "hours_live": hours, "spend": spend.sum(), "conversions": conv.sum(),
            "cpa": spend.sum() / conv.sum(), "baseline_cpa": 40.0,
            "predicted_uplift": None if i == 1 else np.log(1.5), "estimated_uplift": np.log(0.5 + 0.4 * i),
            "low": np.log(0.3 + 0.4 * i), "high": np.log(0.8 + 0.4 * i), "decision": decision,
            "reason": EVIL if decision == "pause" else f"{hours} h in: reason for {decision}",
            "creator_handle": EVIL if decision == "pause" else f"live_creator_{i}", "caption": EVIL,
            "currency": "USD",
        })
        hourly += [{"post_id": f"live{i}", "boosted_at": boosted, "hour_start": boosted.floor("h") + pd.Timedelta(hours=h),
                    "spend": spend[h], "conversions": conv[h]} for h in range(hours)]
    record = {"window_days": 60, "count": 31, "predicted_mean": np.log(2.4), "realised_mean": np.log(2.1),
              "coverage": 0.77, "retrain_due": retrain,
              "why": ["only 52% of the last 31 boosts landed inside the predicted range, where validation promised 80%"]
              if retrain else []}
    return MonitorView(boosts=pd.DataFrame(rows), hourly=pd.DataFrame(hourly), track_record=record, problem=problem)


def test_live_boost_cards_above_the_shortlist() -> None:
    monitor = make_monitor()
    html = render_shortlist_html(make_shortlist(), make_meta(), {}, monitor)
    text = visible(html)
    assert text.index("Live boosts") < text.index(make_shortlist()["reason_1"].iloc[0])
    cards = live_views(monitor, ZoneInfo("UTC"))
    assert [c["decision"] for c in cards] == ["pause", "scale", "keep", "too_early"]  # the ones to act on first
    assert [c["decision_label"] for c in cards] == ["Pause", "Add budget", "Keep running", "Too early to tell"]
    for card in cards:
        assert card["decision_label"] in text and card["chart"] is not None
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned" in html
    # The prediction beside the estimate, in words; a boost never scored says so.
    assert {c["predicted"] for c in cards} == {"0.67x your in-feed cost", ""}
    assert "no prediction (not scored before the boost)" in text
    assert cards[-1]["estimate"] == "2.0x your in-feed cost"  # the "too_early" boost: exp(-log 0.5)
    # Money in the advertiser's currency where it is known, the chart's legend included.
    assert cards[0]["spend"] == cards[0]["chart"]["spend_total"] == "$504"
    # Advertisers by name where one is known (escaped), else by id.
    assert text.count("Brand <One> ·") == 2 and "Brand <One>" not in html
    assert text.count("Advertiser adv-2 ·") == 2
    assert ("Last 60 days: predicted 0.42x your in-feed cost on average, realised 0.48x your in-feed cost; 77% "
            "inside the predicted range") in text
    assert "Retraining is due" not in text


def test_a_card_without_a_known_currency_says_so_once() -> None:
    from sparkpick.wording import UNKNOWN_CURRENCY_NOTE

    monitor = make_monitor()
    unknown = monitor.boosts.assign(currency=[None, "", "USD", "EUR"])
    cards = {c["post_id"]: c for c in live_views(MonitorView(boosts=unknown, hourly=monitor.hourly), ZoneInfo("UTC"))}
    assert cards["live0"]["spend"].isdigit() and cards["live2"]["spend"].startswith("$")  # bare, and in dollars
    assert [cards[p]["currency_note"] for p in ("live0", "live1", "live2", "live3")] == [
        UNKNOWN_CURRENCY_NOTE, UNKNOWN_CURRENCY_NOTE, "", ""]
    html = render_shortlist_html(make_shortlist(), make_meta(), {}, MonitorView(boosts=unknown,
                                                                                 hourly=monitor.hourly))
    assert visible(html).count(UNKNOWN_CURRENCY_NOTE) == 2  # once on each of the two cards


def test_chart_follows_cumulative_spend_and_conversions() -> None:
    view = make_monitor()
    one = view.hourly[view.hourly["post_id"] == "live1"]
    chart = delivery_chart(one)
    spend_y = [float(p.split(",")[1]) for p in chart["spend_points"].split()]
    conv_y = [float(p.split(",")[1]) for p in chart["conv_points"].split()]
    assert len(spend_y) == len(one) + 1
    assert spend_y == sorted(spend_y, reverse=True)  # cumulative: never falls (SVG y grows downwards)
    assert conv_y == sorted(conv_y, reverse=True) and len(set(conv_y)) == one["conversions"].sum() + 1
    assert chart["hours"] == "18" and chart["conv_total"] == "4"
    assert delivery_chart(one.iloc[:0]) is None


def test_retraining_due_and_monitor_failure_are_shown() -> None:
    text = visible(render_shortlist_html(make_shortlist(), make_meta(), {}, make_monitor(retrain=True)))
    assert "Retraining is due: only 52% of the last 31 boosts" in text
    broken = make_monitor(problem="the live-boost monitor failed: warehouse locked")
    text = visible(render_shortlist_html(make_shortlist(), make_meta(), {}, broken))
    assert "could not run this time: the live-boost monitor failed" in text
    assert "reason for keep" not in text and "Shares per view in the top 5%" in text  # no cards; the shortlist
    empty = MonitorView(boosts=pd.DataFrame(), hourly=pd.DataFrame())
    assert "No boosts are live right now." in visible(render_shortlist_html(make_shortlist(), make_meta(), {}, empty))
    assert "Live boosts" not in visible(render_shortlist_html(make_shortlist(), make_meta(), {}))


def test_write_report_writes_live_boosts_csv(tmp_path: Path) -> None:
    out = write_report(make_shortlist(), make_meta(), tmp_path, "2026-11-01", thumbnails={}, monitor=make_monitor())
    live = pd.read_csv(out.folder / "live_boosts.csv", dtype={"post_id": str})
    assert sorted(live["post_id"]) == ["live0", "live1", "live2", "live3"]
    info = json.loads((out.folder / "report.json").read_text())
    assert info["live_boosts"] == 4 and info["track_record"]["count"] == 31
    # The same night without the monitor does not keep the earlier live boosts.
    write_report(make_shortlist(), make_meta(), tmp_path, "2026-11-01", thumbnails={})
    assert not (out.folder / "live_boosts.csv").exists()


@pytest.fixture(scope="module")
def written_live_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = write_report(make_shortlist(), make_meta(), tmp_path_factory.mktemp("live"), "2026-11-01",
                       thumbnails={}, monitor=make_monitor(retrain=True))
    return out.html


def test_live_boosts_in_headless_chromium(written_live_report: Path) -> None:
    browser = require_chromium()
    dom, log = dump_dom(browser, written_live_report.as_uri())
    assert 'data-js="ready"' in dom and console_errors(log) == []
    assert len(re.findall(r'<article class="live-card', dom)) == 4
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom).group(1)
    assert len(re.findall(r'<polyline class="spend"', dom)) == 4
    shot = screenshot(browser, written_live_report.as_uri(), ARTIFACTS / "report" / "live-boosts.png")
    assert shot.stat().st_size > 20_000


def test_each_pick_shows_what_became_of_it_on_the_account() -> None:
    shortlist = make_shortlist(advertisers=1, k=3)
    shortlist["approval"] = ["launched", "awaiting approval", ""]
    assert [v["approval"] for v in shortlist_views(shortlist, make_meta(), {})] == ["launched", "awaiting approval", ""]
    text = visible(render_shortlist_html(shortlist, make_meta(), {}))
    assert "Launched" in text and "Awaiting approval" in text


def test_live_cards_split_the_hourly_rows_once_and_chart_each_boost_as_alone() -> None:
    from sparkpick.report import charts_by_boost

    rows = []
    for i, start in enumerate(pd.to_datetime(["2026-10-30T09:30", "2026-10-30T09:30", "2026-10-31T01:00"])):
        for h in range(5 + i):
            rows.append({"post_id": f"p{i % 2}", "boosted_at": start + pd.Timedelta(minutes=i),
                         "hour_start": start.floor("h") + pd.Timedelta(hours=h), "spend": 2.0 + h + i,
                         "conversions": h % 2})
    hourly = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # in no order
    charts = charts_by_boost(hourly)
    assert len(charts) == 3
    for (post, boosted), chart in charts.items():
        mine = hourly[(hourly["post_id"] == post) & (hourly["boosted_at"] == boosted)]
        assert chart == delivery_chart(mine)
    assert charts_by_boost(hourly.iloc[:0]) == {}
