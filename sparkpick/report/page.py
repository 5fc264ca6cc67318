"""The report's page: the run's facts, one view per shortlist row and live boost, rendered by the Jinja2
template into one self-contained HTML page. Pure: frames and bytes in, a page out. All post text is escaped by
Jinja2's autoescape."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
import pandas as pd

from sparkpick.contract import as_utc
from sparkpick.outside_text import visible_text
from sparkpick.report.charts import charts_by_boost
from sparkpick.vocabulary import FLAG_COLUMNS, Decision, Flag
from sparkpick.wording import (
    PRIOR_BAND_NOTE,
    SAME_COST_BAND,
    TEST_PICK_LABEL,
    TEST_PICK_SENTENCE,
    advertiser_label,
    age_phrase,
    as_number,
    as_text,
    band_sentence,
    boost_again_sentence,
    boosts_known,
    compact_count,
    cost_range_phrase,
    currency_note,
    decision_help,
    decision_label,
    flag_help,
    flag_label,
    held_back_sentence,
    left_out_sentence,
    log_cost_phrase,
    money,
    ranking_headline,
    ratio_band,
    ratio_phrase,
    readable_list,
    retrain_sentence,
    track_record_sentence,
    uplift_sentence,
)

# TikTok item ids are long digit strings; only those can be turned into a public post link.
_TIKTOK_ITEM_ID = re.compile(r"^\d{15,22}$")


@dataclass(frozen=True)
class ReportMeta:
    """Facts about one run that the report's header shows."""

    as_of: datetime
    ran_at: datetime
    model_version: str | None
    candidates_considered: int
    polish_ad_threshold: float
    advertisers: int | None = None
    top_k: int | None = None
    source: str = ""
    run_id: str | None = None
    # Human-readable lines, one per thing that failed (a post, a video, a stage).
    failures: tuple[str, ...] = ()
    # Other short facts worth a line ("12 new posts ingested").
    notes: tuple[str, ...] = ()
    display_timezone: str = "UTC"
    # The warning window behind the "code expiring" flag (features.auth_expiry_warning_days).
    auth_expiry_days: int = 7
    # Posts younger than this are still calibrating (features.calibration_hours).
    calibration_hours: float = 48.0
    # Build TikTok links from item ids (off for made-up data such as the demo world).
    link_posts: bool = True

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = pd.Timestamp(self.as_of).isoformat()
        out["ran_at"] = pd.Timestamp(self.ran_at).isoformat()
        return out


@dataclass(frozen=True)
class MonitorView:
    """What the report shows about live boosts and the model's track record.

    `boosts`: one row per live boost (the monitor's columns, optionally `creator_handle` and `caption`);
    `hourly`: those boosts' hourly rows up to the as-of time (`post_id`, `boosted_at`, `hour_start`,
    `spend`, `conversions`); `track_record`: the rolling figures (`TrackRecord.to_dict()`), or None;
    `problem`: why the monitor could not run this time (the shortlist is unaffected), or None.
    """

    boosts: pd.DataFrame
    hourly: pd.DataFrame
    track_record: Mapping[str, Any] | None = None
    problem: str | None = None


def post_link(row: Mapping[str, Any]) -> str | None:
    """A public link to the post: the `post_url` column if present, else built from a TikTok item id."""
    url = row.get("post_url")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    post_id, handle = str(row.get("post_id") or ""), row.get("creator_handle")
    if _TIKTOK_ITEM_ID.match(post_id) and isinstance(handle, str) and handle:
        return f"https://www.tiktok.com/@{handle.lstrip('@')}/video/{post_id}"
    return None


def add_display_flags(shortlist: pd.DataFrame) -> pd.DataFrame:
    """The shortlist with every flag column present as a plain bool (a missing flag reads as False).
    Flags are decided with the features (`features/readiness.py`); the report only shows them."""
    out = shortlist.copy()
    for col in FLAG_COLUMNS:
        if col not in out.columns:
            out[col] = False
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    return out


def _image_mime(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def data_uri(data: bytes | None) -> str | None:
    """Image bytes as a `data:` URI, or None for anything that is not a known image format."""
    if not data:
        return None
    mime = _image_mime(data)
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _shown(value: Any) -> Any:
    """Every value the template prints, before Jinja2 escapes it: outside text shows as it reads (no bidi
    control reorders a handle, no invisible character, no control character; `visible_text`). HTML the
    code built (Markup) holds no such character either, and stays HTML."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(visible_text(str(value), lines=True))
    return visible_text(value, lines=True) if isinstance(value, str) else value


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sparkpick", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )


def _local(ts: Any, tz: ZoneInfo) -> pd.Timestamp | None:
    if ts is None or pd.isna(ts):
        return None
    return as_utc(ts).tz_localize("UTC").tz_convert(tz)


def _fmt_time(ts: pd.Timestamp | None) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M %Z")


def _row_view(
    row: Mapping[str, Any], as_of: pd.Timestamp, tz: ZoneInfo, thumbs: Mapping[str, str],
    legend: list[dict[str, Any]], link_posts: bool,
) -> dict[str, Any]:
    post_id = as_text(row.get("post_id"))
    posted = _local(row.get("posted_at"), tz)
    ratio = as_number(row.get("uplift_ratio"))
    flags = [f for f in legend if bool(row.get(f["key"], False))]
    reasons = [as_text(row.get(f"reason_{i}")) for i in (1, 2, 3)]
    polish = as_number(row.get("polish_score"))
    engagement = as_number(row.get("engagement_rate"))
    return {
        "advertiser_id": as_text(row.get("advertiser_id")),
        "advertiser_name": as_text(row.get("advertiser_name")).strip(),
        "post_id": post_id,
        "rank": int(as_number(row.get("rank")) or 0),
        "thumb": thumbs.get(post_id),
        "handle": as_text(row.get("creator_handle")).lstrip("@"),
        "link": post_link(row) if link_posts else None,
        "caption": as_text(row.get("caption")),
        "posted": _fmt_time(posted),
        "posted_sort": posted.timestamp() if posted is not None else 0,
        "age": age_phrase(as_utc(row["posted_at"]) if posted is not None else None, as_of),
        "views": compact_count(row.get("views")),
        "views_sort": as_number(row.get("views")) or 0,
        "likes": compact_count(row.get("likes")),
        "comments": compact_count(row.get("comments")),
        "shares": compact_count(row.get("shares")),
        "engagement": "–" if engagement is None else f"{engagement * 100:.1f}%",
        "engagement_sort": engagement or 0,
        "ratio": ratio,
        "ratio_sort": ratio if ratio is not None else -1,
        "uplift_short": ratio_phrase(ratio),
        "uplift_class": "none" if ratio is None else ("good" if ratio >= 1 + SAME_COST_BAND
                                                     else "bad" if ratio <= 1 - SAME_COST_BAND else "even"),
        "uplift_text": uplift_sentence(ratio),
        "band_text": band_sentence(*ratio_band(row)),
        "reasons": [r for r in reasons if r],
        "flags": flags,
        "flag_keys": " ".join(f["key"] for f in flags) or "none",
        "polish": None if polish is None else f"{polish:.0f}",
        "polish_sort": polish if polish is not None else -1,
        "polish_reasons": readable_list(row.get("polish_reasons")),
        "video_status": as_text(row.get("video_status")),
        # What became of the pick on the ad account (flows/approval.py): approved, launched, waiting, ...
        "approval": as_text(row.get("approval")).strip(),
        "test_pick": TEST_PICK_SENTENCE if as_number(row.get("is_test_pick")) == 1 else "",
    }


def _live_view(row: Mapping[str, Any], chart: dict[str, Any] | None, tz: ZoneInfo) -> dict[str, Any]:
    """One live boost's card; `chart` is its delivery chart (`charts_by_boost`)."""
    decision = Decision.of(row.get("decision"))
    predicted = as_number(row.get("predicted_uplift"))
    estimate, low, high = (as_number(row.get(c)) for c in ("estimated_uplift", "low", "high"))
    spend, conversions = as_number(row.get("spend")), as_number(row.get("conversions"))
    cpa, baseline = as_number(row.get("cpa")), as_number(row.get("baseline_cpa"))
    hours = as_number(row.get("hours_live"))
    currency = row.get("currency")
    return {
        "advertiser_id": as_text(row.get("advertiser_id")),
        "advertiser_name": as_text(row.get("advertiser_name")).strip(),
        "post_id": as_text(row.get("post_id")),
        "handle": as_text(row.get("creator_handle")).lstrip("@"),
        "caption": as_text(row.get("caption")),
        "boosted": _fmt_time(_local(row.get("boosted_at"), tz)),
        "hours": "–" if hours is None else f"{hours:.0f} h",
        "spend": money(spend, currency),
        "conversions": "–" if conversions is None else f"{conversions:.0f}",
        "cpa": money(cpa, currency) if cpa is not None else "no conversions yet",
        "baseline_cpa": money(baseline, currency) if baseline is not None else "no in-feed baseline",
        # Said once on the card when the advertiser's currency is unknown (its amounts are bare numbers).
        "currency_note": currency_note(currency),
        "decision": decision.value,
        "decision_label": decision_label(decision),
        "decision_help": decision_help(decision),
        "reason": as_text(row.get("reason")),
        "predicted": log_cost_phrase(predicted) if predicted is not None else "",
        "estimate": log_cost_phrase(estimate) if estimate is not None else "no estimate yet",
        "estimate_range": cost_range_phrase(low, high),
        # The legend's total spend in the advertiser's currency, as every amount.
        "chart": None if chart is None else {**chart, "spend_total": money(chart["spend_total"], currency)},
        "order": (list(Decision).index(decision), as_text(row.get("advertiser_id")), as_text(row.get("boosted_at"))),
    }


def live_views(monitor: MonitorView | None, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The live-boost cards: the ones to act on (pause, then add budget) first."""
    if monitor is None or monitor.boosts is None or monitor.boosts.empty:
        return []
    charts = charts_by_boost(monitor.hourly)
    views = [_live_view(r, charts.get((as_text(r.get("post_id")), pd.Timestamp(r.get("boosted_at")))), tz)
             for r in monitor.boosts.to_dict("records")]
    return sorted(views, key=lambda v: v["order"])


def _in_page_order(shortlist: pd.DataFrame) -> pd.DataFrame:
    frame = add_display_flags(shortlist)
    return frame.sort_values(["advertiser_id", "rank"], kind="stable") if len(frame) else frame


def flag_legend(meta: ReportMeta) -> list[dict[str, str]]:
    """Every flag as the page explains it: its column (`key`), its short `label` and its `help`."""
    return [{"key": f.column, "label": flag_label(f),
             "help": flag_help(f, meta.auth_expiry_days, meta.calibration_hours)} for f in Flag]


def shortlist_views(shortlist: pd.DataFrame, meta: ReportMeta, thumbnails: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """One view per pick, in the page's order (advertiser, then rank): what its row shows, in words and
    figures (`uplift_text`, `band_text`, `flags` with their labels, `reasons`, `approval`, `test_pick`, ...)."""
    tz = ZoneInfo(meta.display_timezone)
    thumbs = {pid: uri for pid, data in thumbnails.items() if (uri := data_uri(data))}
    legend = flag_legend(meta)
    return [_row_view(r, as_utc(meta.as_of), tz, thumbs, legend, meta.link_posts)
            for r in _in_page_order(shortlist).to_dict("records")]


def render_shortlist_html(
    shortlist: pd.DataFrame, meta: ReportMeta, thumbnails: Mapping[str, bytes], monitor: MonitorView | None = None,
    others: pd.DataFrame | None = None,
) -> str:
    """The shortlist as one self-contained HTML page (no network, no external files).

    `thumbnails` maps post_id to image bytes (JPEG/PNG/WebP); posts without one show a placeholder.
    `monitor` adds the "Live boosts" section (cards, the track record line) above the shortlist;
    `others`, the candidates the policy left out (live, boosted before or blocked: `status`), a line saying
    how many and why, with the ones worth boosting again (`boost_again`) beside their last result and the
    promising ones that cannot run yet (`held_back`) with what would free them.
    """
    tz = ZoneInfo(meta.display_timezone)
    frame = _in_page_order(shortlist)
    legend = flag_legend(meta)
    rows = shortlist_views(shortlist, meta, thumbnails)
    advertisers = sorted({r["advertiser_id"] for r in rows})
    flag_counts = {col: int(frame[col].sum()) for col in FLAG_COLUMNS}
    summary = []
    for adv in advertisers:
        mine = [r for r in rows if r["advertiser_id"] == adv]
        best = max((r["ratio"] for r in mine if r["ratio"] is not None), default=None)
        ready = sum(1 for r in mine if not r["flags"])
        summary.append({"advertiser_id": adv, "name": mine[0]["advertiser_name"], "picks": len(mine), "ready": ready,
                        "best": ratio_phrase(best)})
    template = _environment().get_template("shortlist.html.j2")
    return template.render(
        rows=rows,
        advertisers=[{"id": s["advertiser_id"], "label": s["name"] or s["advertiser_id"]} for s in summary],
        summary=summary,
        flags=[{**f, "count": flag_counts[f["key"]]} for f in legend],
        meta=meta,
        as_of=_fmt_time(_local(meta.as_of, tz)),
        ran_at=_fmt_time(_local(meta.ran_at, tz)),
        polish_threshold=f"{meta.polish_ad_threshold:.0f}",
        polish_flag=flag_label(Flag.LOOKS_LIKE_AD),
        monitor=monitor,
        live=live_views(monitor, tz),
        track_record=track_record_sentence(monitor.track_record) if monitor else "",
        retrain=retrain_sentence(monitor.track_record) if monitor else "",
        ranking=ranking_headline(frame["model_kind"].iloc[0] if "model_kind" in frame and len(frame) else "",
                                 boosts_known(frame)),
        prior_note=PRIOR_BAND_NOTE,
        left_out=left_out_sentence(others),
        again=_again_views(others),
        test_label=TEST_PICK_LABEL,
    )


def _again_views(others: pd.DataFrame | None) -> list[dict[str, str]]:
    if others is None or others.empty or "boost_again" not in others.columns:
        return []
    again = others[others["boost_again"].fillna(False).astype(bool)]
    held = others[others["held_back"].fillna(False).astype(bool)] if "held_back" in others.columns else others[:0]
    return [{"who": " ".join(p for p in (advertiser_label(r), f"post {as_text(r.get('post_id'))}") if p),
             "text": sentence(r)}
            for frame, sentence in ((again, boost_again_sentence), (held, held_back_sentence))
            for r in frame.to_dict("records")]
