"""Feature matrices as of a decision time: candidate rows to score, and training rows with their label.

A decision is (advertiser, T). Its candidates are the advertiser's posts posted in the
`candidate_window_days` before T (posted_at in (T - window, T]). Training rows are past boosts, each
featurised as of its own `boosted_at` and labelled with what the boost achieved, grouped by advertiser
and decision period (a calendar week by default) for lambdarank.

Both matrices come from one vectorised path over "queries" (one row per (post, T)), so a candidate at T
and a training row whose boost started at T see exactly the same features. Everything is a pure
function of the six contract tables and T: only snapshots observed by T, results and baseline periods
that ended before T, and posts posted by T are used (the leakage tests in tests/features check this).
Columns other than the features (ids, labels, `flag_*` readiness flags, display columns for the report)
are never model inputs: `feature_columns` lists the inputs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from features import caption as caption_mod
from features import creator as creator_mod
from features import engagement, readiness
from features.labels import grade, uplift_labels
from features.quality import DataQualityReport, clean_metrics
from features.video import VIDEO_PREFIX
from features.video.cues.catalogue import video_feature_version
from sparkpick.config import FeaturesConfig, Settings
from sparkpick.contract import DTYPES, SPECS
from sparkpick.errors import InputError
from sparkpick.vocabulary import FLAG_COLUMNS, Flag

ID_COLUMNS: tuple[str, ...] = ("advertiser_id", "post_id", "as_of")
TRAINING_COLUMNS: tuple[str, ...] = (
    "group_id", "decision_time", "boosted_at", "ended_at", "uplift", "relevance", "boost_propensity",
)
DISPLAY_COLUMNS: tuple[str, ...] = (
    "creator_id", "creator_handle", "posted_at", "caption", "views", "likes", "comments", "shares",
    "engagement_rate", "auth_status", "video_status", "polish_score", "polish_reasons", "thumbnail_path",
)
VIDEO_DISPLAY: tuple[str, ...] = ("video_status", "polish_score", "polish_reasons", "thumbnail_path")
# The polish score as a model input (the display column `polish_score` is not one), so that reasons can
# name it; `video_decoded_s` says how much of the file decoded, a data-quality fact, not a content cue.
POLISH_FEATURE = "video_polish_score"
# Video columns that are not model inputs: how much decoded, and the file's container facts (size,
# frame rate, rotation, bitrate). Those say how a file was exported and uploaded, not how the post looks
# to a viewer, and on real footage they follow the upload path (a phone, an agency's exporter) so a
# model would learn the path rather than the picture.
VIDEO_NOT_FEATURES: tuple[str, ...] = (
    "video_decoded_s", "video_width", "video_height", "video_fps", "video_rotation", "video_bitrate_kbps",
)

# The tabular model inputs, in their stable order, with a plain-English phrase and unit each (used to
# write reasons such as "shares per view in the top 5% of this creator's posts").
_BASE_DESCRIPTIONS: dict[str, str] = {
    "views_latest": "organic views so far (views)",
    "likes_latest": "organic likes so far (likes)",
    "comments_latest": "organic comments so far (comments)",
    "shares_latest": "organic shares so far (shares)",
    "watch_time_s": "average watch time (seconds)",
    "completion_rate": "share of views watched to the end (fraction)",
    "like_rate": "likes per view",
    "comment_rate": "comments per view",
    "share_rate": "shares per view",
    "interaction_rate": "likes, comments and shares per view",
    "watch_fraction": "average watch time over video length (fraction)",
    "views_6h": "views 6 hours after posting (views)",
    "views_24h": "views 24 hours after posting (views)",
    "views_48h": "views 48 hours after posting (views)",
    "views_per_hour_recent": "views gained per hour lately (views/hour)",
    "views_per_hour_lifetime": "views per hour since posting (views/hour)",
    "age_hours": "time since posting (hours)",
    "organic_data_hours": "hours of organic data observed (hours)",
    "snapshot_count": "metric snapshots observed (count)",
    "views_24h_vs_creator_z": "views at 24 hours against this creator's recent posts (robust z-score)",
    "interaction_rate_vs_creator_z": "engagement per view against this creator's recent posts (robust z-score)",
    "share_rate_vs_creator_z": "shares per view against this creator's recent posts (robust z-score)",
    "completion_rate_vs_creator_z": "completion rate against this creator's recent posts (robust z-score)",
    "views_24h_vs_advertiser_z": "views at 24 hours against the brand's recent posts (robust z-score)",
    "interaction_rate_vs_advertiser_z": "engagement per view against the brand's recent posts (robust z-score)",
    "share_rate_vs_advertiser_z": "shares per view against the brand's recent posts (robust z-score)",
    "completion_rate_vs_advertiser_z": "completion rate against the brand's recent posts (robust z-score)",
    "creator_followers": "creator's followers (accounts)",
    "own_account": "posted by the brand's own account (yes/no)",
    "partnership_ongoing": "ongoing creator partnership (yes/no)",
    "partnership_one_off": "one-off creator partnership (yes/no)",
    "partnership_days": "age of the creator partnership (days)",
    "usage_rights": "Spark usage rights granted (yes/no)",
    "creator_prior_posts": "creator's earlier posts about this brand (posts)",
    "creator_recent_posts": "creator's posts about this brand in the candidate window (posts)",
    "creator_prior_boosts": "creator's finished Spark Ads for this brand (boosts)",
    "creator_prior_uplift": "creator's average uplift on earlier Spark Ads (log cost ratio)",
    "caption_length": "caption length (characters)",
    "caption_words": "caption length (words)",
    "hashtag_count": "hashtags in the caption (count)",
    "mention_count": "@mentions in the caption (count)",
    "brand_mention": "caption names the brand (yes/no)",
    "disclosure_tag": "caption carries a paid-partnership tag such as #ad (yes/no)",
    "cta_count": "call-to-action phrases in the caption (count)",
    "has_question": "caption asks a question (yes/no)",
    "emoji_count": "emoji in the caption (count)",
    "auth_authorized": "Spark authorisation code in force (yes/no)",
    "auth_requested": "Spark authorisation requested, not yet granted (yes/no)",
    "auth_days_left": "days left on the authorisation code (days)",
    "calibrating": "under 48 hours of organic data (yes/no)",
}
FEATURE_DESCRIPTIONS: dict[str, str] = dict(_BASE_DESCRIPTIONS)


def describe_feature(column: str) -> str:
    """A plain-English phrase with unit for a feature column, including configured growth ages and
    video cues (the video module's own description when it has one)."""
    if column in FEATURE_DESCRIPTIONS:
        return FEATURE_DESCRIPTIONS[column]
    if column.startswith("views_") and column.endswith("h") and column[6:-1].replace(".", "").isdigit():
        return f"views {column[6:-1]} hours after posting (views)"
    if column.endswith(("_vs_creator_z", "_vs_advertiser_z")):
        metric, scope = column.rsplit("_vs_", 1)
        whose = "this creator's" if scope.startswith("creator") else "the brand's"
        return f"{metric.replace('_', ' ')} against {whose} recent posts (robust z-score)"
    if column.startswith(VIDEO_PREFIX):
        try:  # the video engineer's table may describe its cues
            from features.video import table as video_table

            described = getattr(video_table, "VIDEO_FEATURE_DESCRIPTIONS", {})
            if column in described:
                return described[column]
            if column == POLISH_FEATURE and "polish_score" in described:
                return described["polish_score"]
            if column == "video_duration_s":
                return "video length (seconds)"
        except ImportError:
            pass
        return f"video cue: {column[len(VIDEO_PREFIX):].replace('_', ' ')}"
    return column.replace("_", " ")


def feature_version(settings: Settings) -> str:
    """The combined version of all model inputs: tabular features + video cues, e.g. "tab-v1+video-v1"."""
    return f"{settings.features.feature_version}+{video_feature_version(settings.video)}"


_GROWTH = re.compile(r"^views_\d+(?:\.\d+)?h$")
_PEER_SUFFIXES = ("_vs_creator_z", "_vs_advertiser_z")


def _is_tabular_feature(column: str) -> bool:
    return column in FEATURE_DESCRIPTIONS or bool(_GROWTH.match(column)) or column.endswith(_PEER_SUFFIXES)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's input columns of a matrix, in a stable order: the tabular features in
    `FEATURE_DESCRIPTIONS` order (other configured growth ages after them, by name), then the numeric
    `video_*` cues sorted by name. Ids, labels, flags and display columns are never included."""
    excluded = (
        set(ID_COLUMNS) | set(TRAINING_COLUMNS) | set(FLAG_COLUMNS) | set(DISPLAY_COLUMNS)
        | set(VIDEO_NOT_FEATURES)
    )
    order = {c: i for i, c in enumerate(FEATURE_DESCRIPTIONS)}
    tabular = sorted(
        (c for c in frame.columns if c not in excluded and _is_tabular_feature(c)),
        key=lambda c: (order.get(c, len(order)), c),
    )
    video = sorted(
        c for c in frame.columns
        if c.startswith(VIDEO_PREFIX) and c not in excluded
        and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    )
    return tabular + video


# -- inputs --------------------------------------------------------------------------------------------
def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    spec = SPECS[name]
    frame = tables.get(name)
    if frame is None:
        if spec.optional_file:
            return pd.DataFrame({c.name: pd.Series(dtype=DTYPES[c.kind]) for c in spec.columns})
        raise InputError(f"Feature building needs the '{name}' table, which was not given.")
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise InputError(f"Table '{name}' lacks required column(s): {', '.join(missing)}.")
    frame = frame.copy()
    for col in spec.columns:
        if col.name not in frame.columns:
            frame[col.name] = pd.Series(np.nan, index=frame.index)
        elif col.kind == "time":
            frame[col.name] = _naive_utc(frame[col.name])
        elif col.kind == "id":
            frame[col.name] = frame[col.name].astype(str)
    return frame


def _naive_utc(values: pd.Series) -> pd.Series:
    """Times as naive UTC microseconds (the warehouse convention), whatever zone they came in."""
    times = pd.to_datetime(values)
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.astype("datetime64[us]")


def _video(video: pd.DataFrame | None) -> pd.DataFrame | None:
    if video is None:
        return None
    v = video.reset_index() if "post_id" not in video.columns and video.index.name == "post_id" else video
    if "post_id" not in v.columns:
        raise InputError("Video features must be keyed by post_id (a column or the index).")
    v = v.drop_duplicates("post_id", keep="last").copy()
    v["post_id"] = v["post_id"].astype(str)
    return v.set_index("post_id")


def _queries(posts: pd.DataFrame, post_ids: pd.Series, as_of: pd.Series) -> pd.DataFrame:
    q = pd.DataFrame({"post_id": post_ids.to_numpy(), "as_of": pd.to_datetime(as_of.to_numpy())})
    q["as_of"] = q["as_of"].astype("datetime64[us]")
    cols = ["post_id", "advertiser_id", "creator_id", "posted_at", "caption", "video_path",
            "spark_auth_status", "spark_auth_expires_at"]
    return q.merge(posts[cols].drop_duplicates("post_id"), on="post_id", how="left")


def _features(
    tables: dict[str, pd.DataFrame],
    queries: pd.DataFrame,
    settings: Settings,
    video: pd.DataFrame | None,
) -> tuple[pd.DataFrame, DataQualityReport]:
    """Every feature, flag and display column for each query (aligned with its index)."""
    cfg: FeaturesConfig = settings.features
    posts = tables["posts"]
    metrics, report = clean_metrics(tables["metrics"], posts)
    metrics = engagement.with_history(metrics)
    vid = _video(video)
    duration = None
    if vid is not None and "video_duration_s" in vid.columns:
        duration = pd.Series(
            pd.to_numeric(vid["video_duration_s"], errors="coerce").reindex(queries["post_id"]).to_numpy(),
            index=queries.index,
        )
    latest = engagement.latest_snapshots(queries, metrics)
    ages = engagement.views_at_ages(posts, metrics, cfg)
    eng = engagement.engagement_features(queries, latest, ages, cfg, duration)
    peers = engagement.peer_features(queries, eng, posts, metrics, ages, cfg)
    rel = creator_mod.relationship_features(queries, tables["creators"], tables["partnerships"])
    fam = creator_mod.familiarity_features(queries, posts, cfg.candidate_window_days)
    hist = creator_mod.spark_history_features(
        queries, posts, tables["spark_results"], tables["baselines"], settings.label
    )
    terms = caption_mod.brand_terms(tables["creators"], tables["partnerships"], cfg.caption)
    cap_posts = posts.drop_duplicates("post_id")
    cap = caption_mod.caption_features(cap_posts, cfg.caption, terms).reindex(queries["post_id"].to_numpy())
    cap.index = queries.index
    ready = readiness.readiness_features(queries, eng["organic_data_hours"], rel["usage_rights"], cfg)

    out = pd.concat([eng, peers, rel, fam, hist, cap, ready.drop(columns=["auth_status"])], axis=1)
    if vid is not None:
        cues = [c for c in vid.columns if c.startswith(VIDEO_PREFIX) and c not in VIDEO_DISPLAY]
        joined = vid[cues].reindex(queries["post_id"].to_numpy())
        if "polish_score" in vid.columns and POLISH_FEATURE not in joined.columns:
            joined[POLISH_FEATURE] = pd.to_numeric(
                vid["polish_score"].reindex(queries["post_id"].to_numpy()), errors="coerce"
            ).astype("float64")
        joined.index = queries.index
        out = pd.concat([out, joined], axis=1)

    handles = tables["creators"].drop_duplicates("creator_id").set_index("creator_id")["handle"]
    display = pd.DataFrame(index=queries.index)
    display["creator_id"] = queries["creator_id"]
    display["creator_handle"] = queries["creator_id"].map(handles)
    display["posted_at"] = queries["posted_at"]
    display["caption"] = queries["caption"]
    for col in ("views", "likes", "comments", "shares"):
        display[col] = latest[col].round().astype("Int64")
    display["engagement_rate"] = eng["interaction_rate"]
    display["auth_status"] = ready["auth_status"]
    for col in VIDEO_DISPLAY:
        if vid is not None and col in vid.columns:
            values = vid[col].reindex(queries["post_id"].to_numpy())
            display[col] = values.to_numpy()
        else:
            display[col] = pd.Series(np.nan, index=queries.index, dtype="float64" if col == "polish_score"
                                     else "object")
    # A post the video features do not cover yet: "pending" if it has a video file, "none" if not
    # (the statuses of `features.video.table.post_video_features`).
    path = queries["video_path"].astype("object")
    has_video = path.notna() & (path.astype(str).str.strip() != "")
    unknown = pd.Series(np.where(has_video, "pending", "none"), index=queries.index)
    display["video_status"] = display["video_status"].astype("object").where(
        display["video_status"].notna(), unknown
    )
    threshold = settings.report.polish_ad_threshold
    out[Flag.LOOKS_LIKE_AD.column] = readiness.looks_like_ad(display["polish_score"], threshold)
    return pd.concat([out, display], axis=1), report


def _order(frame: pd.DataFrame, leading: list[str]) -> pd.DataFrame:
    feats = feature_columns(frame)
    rest = [c for c in frame.columns if c not in leading and c not in feats]
    return frame[leading + feats + rest]


# -- public API ------------------------------------------------------------------------------------
def candidate_matrix(
    tables: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    settings: Settings,
    video: pd.DataFrame | None = None,
    advertiser_id: str | None = None,
) -> pd.DataFrame:
    """One row per candidate at decision time `as_of` (naive UTC): every advertiser's posts (or one
    advertiser's) posted in the `candidate_window_days` before `as_of`.

    Columns: `advertiser_id`, `post_id`, `as_of`, the features (`feature_columns`), the `flag_*`
    readiness flags and the display columns. Sorted by advertiser, then newest post first.
    `frame.attrs` carries `feature_version` and `data_quality` (the `DataQualityReport` as a dict).
    """
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    as_of = as_of.as_unit("us")
    t = {name: _table(tables, name) for name in SPECS}
    posts = t["posts"]
    if advertiser_id is not None:
        if not (posts["advertiser_id"] == str(advertiser_id)).any():
            raise InputError(f"Advertiser '{advertiser_id}' has no posts in the data.")
        posts = posts[posts["advertiser_id"] == str(advertiser_id)]
    window = pd.Timedelta(days=settings.features.candidate_window_days)
    chosen = posts[(posts["posted_at"] <= as_of) & (posts["posted_at"] > as_of - window)]
    chosen = chosen.sort_values(["advertiser_id", "posted_at", "post_id"], ascending=[True, False, True])
    queries = _queries(t["posts"], chosen["post_id"], pd.Series(as_of, index=chosen.index))
    feats, report = _features(t, queries, settings, video)
    frame = pd.concat([queries[list(ID_COLUMNS)], feats], axis=1)
    frame = _order(frame, list(ID_COLUMNS)).reset_index(drop=True)
    frame.attrs = {"feature_version": feature_version(settings), "data_quality": report.as_dict()}
    return frame


def decision_groups(advertiser_id: pd.Series, boosted_at: pd.Series, period: str) -> tuple[pd.Series, pd.Series]:
    """(group_id, decision_time) of boosts: the advertiser and the start of the decision period (a
    calendar week by default) that the boost fell in, e.g. "adv1@2026-06-01"."""
    start = boosted_at.dt.to_period(period).dt.start_time.astype("datetime64[us]")
    group = advertiser_id.astype(str) + "@" + start.dt.strftime("%Y-%m-%d")
    return group, start


def training_matrix(
    tables: dict[str, pd.DataFrame],
    settings: Settings,
    video: pd.DataFrame | None = None,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per past boost, featurised as of its `boosted_at`, with its label and group.

    Only boosts whose results ended before `until` (when given) are used, and their labels then use
    only baseline periods that ended before `until`. Boosts without a usable baseline get no label and
    are left out (counted as `labels_without_baseline` in `attrs["data_quality"]`). Columns:
    `group_id`, `decision_time`, `advertiser_id`, `post_id`, `as_of` (= `boosted_at`), `boosted_at`,
    `ended_at`, `uplift`, `relevance`, `boost_propensity`, then the features, flags and display
    columns. Sorted by `decision_time`, `group_id`, `boosted_at`, `post_id`, so groups are contiguous.
    """
    t = {name: _table(tables, name) for name in SPECS}
    results = t["spark_results"]
    results = results[results["post_id"].isin(t["posts"]["post_id"])]
    if until is not None:
        until = pd.Timestamp(until)
        if until.tzinfo is not None:
            until = until.tz_convert("UTC").tz_localize(None)
        until = until.as_unit("us")
        results = results[results["ended_at"] < until]
    results = results.drop_duplicates(["post_id", "boosted_at"], keep="last").reset_index(drop=True)
    as_of_label = None if until is None else pd.Series(until, index=results.index)
    uplift = uplift_labels(results, t["baselines"], t["posts"], settings.label, as_of=as_of_label)
    keep = uplift.notna()
    results, uplift = results[keep].reset_index(drop=True), uplift[keep].reset_index(drop=True)

    queries = _queries(t["posts"], results["post_id"], results["boosted_at"])
    feats, report = _features(t, queries, settings, video)
    report = report.with_labels_missing(int((~keep).sum()))
    group, start = decision_groups(queries["advertiser_id"], results["boosted_at"], settings.features.decision_period)
    head = pd.DataFrame(
        {
            "group_id": group,
            "decision_time": start,
            "advertiser_id": queries["advertiser_id"],
            "post_id": queries["post_id"],
            "as_of": queries["as_of"],
            "boosted_at": results["boosted_at"],
            "ended_at": results["ended_at"],
            "uplift": uplift,
            "relevance": grade(uplift, group, settings.label),
            "boost_propensity": pd.to_numeric(results["boost_propensity"], errors="coerce").astype("float64"),
        }
    )
    frame = pd.concat([head, feats], axis=1)
    frame = _order(frame, list(head.columns))
    frame = frame.sort_values(["decision_time", "group_id", "boosted_at", "post_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs = {"feature_version": feature_version(settings), "data_quality": report.as_dict()}
    return frame
