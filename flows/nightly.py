"""The nightly run: ingest what is new, featurize new or changed videos, score every advertiser's candidates
with the champion model, write the shortlist report, and (as a Prefect flow) publish artifacts.

`run_nightly` is the plain function; `nightly_flow` (in `flows/deployments.py`, with the other Prefect flows)
runs the same steps as Prefect tasks with retries and logs through Prefect's run logger. Nothing here
imports Prefect at start-up: a plain night (`--no-prefect`, cron) does not pay for it. Both hold the
home's nightly lock, so two runs never interleave, and both are idempotent: the same night run twice
upserts nothing new and rewrites the same report.

A stage that fails after its retries is reported rather than hidden: ingest or featurize failing leaves
the shortlist built from what the warehouse already holds (the report says so and the run ends failed
after writing it); scoring or the report failing ends the night. One bad post or video never does.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd

from flows.lock import LOCK_NAME, run_lock
from flows.markdown_text import markdown_safe
from flows.runners import PlainRunner, StepRunner, describe_exc
from flows.unchanged import KeptNight, forget_night, keep_night, load_kept, night_inputs, source_state
from sparkpick.config import Settings
from sparkpick.contract import as_utc
from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.report import MonitorView, ReportMeta, ReportPaths, reuse_report, write_report
from sparkpick.shortlist import top_per_advertiser
from sparkpick.sources.registry import find_source
from sparkpick.wording import far_from_now_sentence, retrain_sentence, top_picks_table, track_record_sentence

T = TypeVar("T")
log = logging.getLogger("sparkpick.nightly")
MAX_FAILURES_LISTED = 200
# How a night's featurize failure begins in its stage failures.
FEATURIZE_FAILED = "featurize failed"


@dataclass
class NightlyResult:
    """What one night did."""

    as_of: pd.Timestamp
    report_date: str
    shortlist: pd.DataFrame
    report: ReportPaths | None = None
    candidates: int = 0
    model_version: str | None = None
    trained: bool = False
    notes: list[str] = field(default_factory=list)
    # One line per post, video or row that failed; the night went on without it.
    failures: list[str] = field(default_factory=list)
    # One line per stage that failed after its retries.
    stage_failures: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    live_boosts: int = 0
    # The model's track record (TrackRecord.to_dict()), when the monitor ran.
    track_record: dict[str, Any] | None = None
    new_rows: int = 0
    videos_featurized: int = 0
    # Videos that could not be read this night (missing, changed while read): the next night reads them again.
    videos_unread: int = 0

    @property
    def ok(self) -> bool:
        return not self.stage_failures


# -- small pure helpers --------------------------------------------------------------------------------
def default_as_of(settings: Settings, now: pd.Timestamp) -> pd.Timestamp:
    """The as-of time when none is given: now, except for the demo world, whose "today" is its end."""
    known = find_source(settings.ingest.source)
    own = known.default_as_of(settings) if known is not None else None
    return as_utc(own if own is not None else now)


def report_date(as_of: pd.Timestamp, timezone: str) -> str:
    """The night's key: the as-of date in the configured timezone (YYYY-MM-DD)."""
    return as_utc(as_of).tz_localize("UTC").tz_convert(ZoneInfo(timezone)).date().isoformat()


def redact(message: str, secrets: list[str | None]) -> str:
    """The message with any secret value replaced, so tokens never reach logs or reports."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    return message


def _later(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, imported on the first call: a night that skips a stage never imports its stack."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _stage_functions() -> dict[str, Callable[..., Any]]:
    """The stage functions, each imported when it first runs (the video and model stacks are heavy)."""
    return {"ingest": _later("flows.ingest", "ingest_source"),
            "featurize": _later("flows.featurize", "featurize_stage"),
            "score": _later("flows.train", "score_candidates"),
            "train": _later("flows.train", "train_model"), "report": write_report, "has_champion": _has_champion,
            "monitor": _later("flows.monitor", "run_monitor")}


def _has_champion(home: Home, settings: Settings) -> bool:
    from models.serving import has_champion

    return bool(has_champion(home.tracking_uri(settings), settings.mlflow.model_name))


def _failure_lines(summary: Any, attr: str) -> list[str]:
    """A summary's failures as lines; dict items ({post_id, status, reason}) read as "post X: status: reason"."""
    lines = []
    for item in getattr(summary, attr, None) or []:
        if isinstance(item, dict) and "post_id" in item:
            lines.append(f"post {item['post_id']}: {item.get('status', 'failed')}: {item.get('reason', '')}")
        else:
            lines.append(str(item))
    return lines


# -- the night -------------------------------------------------------------------------------------------
def run_nightly(
    home: Home,
    settings: Settings,
    as_of: pd.Timestamp | None = None,
    *,
    ran_at: pd.Timestamp | None = None,
    runner: StepRunner | None = None,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = log,
    access_token: str | None = None,
    stages: dict[str, Callable[..., Any]] | None = None,
    progress: dict[str, Callable[[int, int], None]] | None = None,
) -> NightlyResult:
    """Run one night under the home's lock and return what it did (see the module docstring).

    `as_of` defaults to `default_as_of`; `ran_at` (shown in the report) to now. `stages` replaces the
    stage functions (ingest, featurize, score, train, report, has_champion, monitor) for tests of the
    wiring; without a "monitor" there, the night has no live-boost section.
    `progress` maps "ingest" (building the demo world) and "featurize" to `(done, total)` callbacks.
    """
    cfg = settings.nightly
    home.ensure()
    now = as_utc(pd.Timestamp.now(tz="UTC"))
    as_of = as_utc(as_of) if as_of is not None else default_as_of(settings, now)
    ran_at = as_utc(ran_at) if ran_at is not None else now
    run = runner or PlainRunner(cfg.retries, cfg.retry_delay_s, logger)
    fns: dict[str, Callable[..., Any]] = {"report": write_report, "has_champion": _has_champion,
                                         **(stages or _stage_functions())}
    source = settings.ingest.source
    day = report_date(as_of, cfg.timezone)
    result = NightlyResult(as_of=as_of, report_date=day, shortlist=pd.DataFrame())

    def timed(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        start = time.perf_counter()
        try:
            return run(name, fn, *args, **kwargs)
        finally:
            result.timings_s[name] = round(time.perf_counter() - start, 3)

    def stage_failed(what: str, exc: BaseException) -> None:
        line = redact(f"{what}: {describe_exc(exc)}", [access_token])
        result.stage_failures.append(line)
        logger.error("%s", line)

    with run_lock(home.data / LOCK_NAME, cfg.lock_timeout_s, on_wait=logger.warning):
        logger.info("nightly run for %s (as of %s UTC), source %s", day, as_of, source)
        if far := far_from_now_sentence(as_of, ran_at):  # a backfill or a typo: the report says so
            result.notes.append(far)
            logger.warning("%s", far)
        # What this night's output depends on, the source's state included, taken before ingesting; and
        # the night kept last (flows/unchanged.py). Replaced stage functions (tests of the wiring) always run.
        # The source folder's tables are hashed once a night, here.
        reuse = stages is None
        state = source_state(home, source) if reuse else None
        before = night_inputs(home, settings, as_of, state) if reuse else None  # None on a first night
        kept = load_kept(home) if before is not None else None
        repeat = kept is not None and before is not None and before.same_night(kept.inputs)
        if kept is not None and before is not None and not repeat:
            logger.info("changed since the night kept last: %s", ", ".join(before.changed_since(kept.inputs)))

        # 1-2. Ingest and featurize what is new, unless nothing can be.
        if repeat:
            assert kept is not None
            result.failures += list(kept.failures)
            result.notes.append("nothing changed since this night last ran (same source files, data, model, "
                                "settings and time): its shortlist and live boosts are repeated")
            logger.info("nothing changed since this night last ran: ingest, featurize, score and monitor skipped")
        else:
            _gather(home, settings, as_of, result, timed, stage_failed, fns, progress, access_token, logger)

        # 3-4. Nothing changed since these inputs were last scored (same warehouse contents, champion,
        # settings and as-of time): reuse those scores and live boosts.
        now = before if repeat else (night_inputs(home, settings, as_of) if reuse else None)
        if kept is None and now is not None:  # a first night's warehouse exists only now
            kept = load_kept(home)
        reused = kept if kept is not None and now is not None and now.same_scoring(kept.inputs) else None
        if reused is not None:
            scored = reused.scored
            result.timings_s["score"] = 0.0
            if not repeat:
                result.notes.append("nothing changed since these inputs were last scored: their scores are reused")
                logger.info("nothing changed since the last scoring of these inputs: scores reused")
        else:
            # 3. A fresh home has no champion yet: the prior (the brief's rules) becomes champion when the
            # night scores, and a first ranker is trained to face it if the boosts allow (configurable); the
            # gate decides which serves. A damaged registry is not "no champion": has_champion raises
            # (DamagedFileError) and the night fails naming it. No first ranker is trained on a night whose
            # featurize failed: it would lack its video cues, and the gate would keep it once they came back.
            if cfg.train_if_no_champion and not fns["has_champion"](home, settings):
                if any(line.startswith(FEATURIZE_FAILED) for line in result.stage_failures):
                    result.notes.append("no ranker trained tonight: featurize failed, and a first model is not "
                                        "trained without its video cues; the brief's rules rank tonight")
                    logger.warning("no champion model yet and featurize failed: the brief's rules serve tonight")
                else:
                    logger.warning("no champion model yet: the brief's rules serve; training a ranker to compare")
                    try:
                        timed("train", fns["train"], home, settings, until=as_of)
                        result.trained = True
                    except InputError as exc:  # too few boosts yet: the prior ranks tonight
                        result.notes.append(f"no ranker trained yet: {exc}")
                        logger.info("no ranker trained yet: %s", exc)

            # 4. Score every advertiser's candidates with the champion. Without scores there is no shortlist.
            scored = timed("score", fns["score"], home, settings, as_of=as_of, top_k=None)
        result.candidates = len(scored)
        shortlist = top_per_advertiser(scored, settings.report.top_k)
        result.shortlist = shortlist
        if "model_version" in shortlist.columns and len(shortlist):
            result.model_version = str(shortlist["model_version"].iloc[0])
        logger.info("scored %d candidates; %d shortlisted", result.candidates, len(shortlist))

        # 5. The live boosts and the model's track record. A failure here is listed in the report and
        # fails the night, but the shortlist is still written.
        monitor_view = None
        if "monitor" in fns and reused is not None and reused.monitor is not None:
            monitor_view = reused.monitor
            result.live_boosts = len(monitor_view.boosts)
            result.track_record = dict(monitor_view.track_record) if monitor_view.track_record else None
            result.timings_s["monitor"] = 0.0
            result.notes.append(f"{result.live_boosts} live boost(s) watched (unchanged since the last look)")
        elif "monitor" in fns:
            try:
                looked = timed("monitor", fns["monitor"], home, settings, as_of=as_of, log_to_mlflow=True)
                monitor_view = looked.view()
                result.live_boosts = len(looked.boosts)
                result.track_record = monitor_view.track_record
                result.notes.append(f"{result.live_boosts} live boost(s) watched")
                logger.info("monitor: %d live boost(s)", result.live_boosts)
            except Exception as exc:
                stage_failed("the live-boost monitor failed; the shortlist is unaffected", exc)
                monitor_view = MonitorView(boosts=pd.DataFrame(), hourly=pd.DataFrame(),
                                           problem=result.stage_failures[-1])

        # 6. The report, keyed by the as-of date: re-running the night rewrites the same files. Each pick
        # says what became of it (approved, launched, waiting) and stopped actions are named.
        from flows.approval import actions_notes, report_states

        if len(shortlist):
            shortlist = shortlist.assign(approval=report_states(home, settings, shortlist, ran_at))
            result.shortlist = shortlist
        result.notes += actions_notes(home, settings, ran_at)
        shown = result.stage_failures + result.failures[:MAX_FAILURES_LISTED]
        if len(result.failures) > MAX_FAILURES_LISTED:
            shown.append(f"... and {len(result.failures) - MAX_FAILURES_LISTED} more (see the run's log)")
        meta = ReportMeta(
            as_of=as_of.to_pydatetime(), ran_at=ran_at.to_pydatetime(), model_version=result.model_version,
            candidates_considered=result.candidates, polish_ad_threshold=settings.report.polish_ad_threshold,
            advertisers=int(shortlist["advertiser_id"].nunique()) if len(shortlist) else 0,
            top_k=settings.report.top_k, source=source.split(":", 1)[0], failures=tuple(shown),
            notes=tuple(result.notes), display_timezone=cfg.timezone,
            auth_expiry_days=settings.features.auth_expiry_warning_days,
            calibration_hours=settings.features.calibration_hours,
            link_posts=known.links_posts if (known := find_source(source)) is not None else True,
        )
        extra: dict[str, Any] = {"monitor": monitor_view} if monitor_view is not None else {}
        if "status" in scored.columns:  # the candidates the policy left out: live or boosted before
            extra["others"] = scored[scored["status"].fillna("").astype(str) != ""]
        # A night that repeats itself keeps the report it wrote (rendering 10,000 live boosts' cards again
        # would cost more than the rest of the repeat); `latest` still moves to it.
        kept_report = reuse_report(home.reports, day, ran_at) if repeat else None
        result.report = kept_report or timed("report", fns["report"], shortlist, meta, home.reports, day, **extra)
        for line in result.failures[:MAX_FAILURES_LISTED]:
            logger.warning("skipped: %s", line)
        logger.info("report: %s", result.report.html if result.report else "none")
        if reuse:
            # Fingerprinted at the end: what the night wrote after scoring (the scores table, the
            # monitor's track record in MLflow) is not an input, and the next night starts here. The
            # source's state is the one taken before ingesting: a file that changed during the night
            # makes the next one ingest. A failed stage is never repeated as if it had succeeded.
            if state is None:
                # A source folder the first night itself makes (the demo world, built into the home): its
                # state after is its state. (A local folder without a state failed to ingest: forgotten.)
                state = source_state(home, source)
            # after.source is None when the state cannot be trusted (videos at URLs): kept so.
            after = night_inputs(home, settings, as_of, state)
            if result.stage_failures or after is None or result.videos_unread:
                forget_night(home)  # never repeated as if it had succeeded, nor as if every video was read
            else:
                keep_night(home, KeptNight(inputs=after, scored=scored, monitor=monitor_view,
                                           failures=tuple(result.failures)))
    return result


def _gather(home: Home, settings: Settings, as_of: pd.Timestamp, result: NightlyResult,
            timed: Callable[..., Any], stage_failed: Callable[[str, BaseException], None],
            fns: dict[str, Callable[..., Any]], progress: dict[str, Callable[[int, int], None]] | None,
            access_token: str | None, logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    """Stages 1-2: ingest what is new, then featurize new or changed videos (cached by content hash).
    A failing stage is recorded in `result` (the night goes on with what the warehouse holds)."""
    source = settings.ingest.source
    # 1. Ingest what is new. A source that stays down is reported; we still score what we have.
    try:
        extra = {"progress": progress["ingest"]} if progress and "ingest" in progress else {}
        ingest = timed("ingest", fns["ingest"], home, settings, source, skip_invalid=True,
                       access_token=access_token, as_of=as_of, **extra)
        result.new_rows = int(getattr(ingest, "new_rows", 0))
        problems = _failure_lines(ingest, "problems")
        result.failures += [redact(f"ingest: {p}", [access_token]) for p in problems]
        result.notes.append(f"{result.new_rows} new or changed rows from {source}")
        logger.info("ingest: %s", "; ".join(getattr(ingest, "lines", list)()) or "nothing new")
    except Exception as exc:
        stage_failed(f"ingest from {source} failed; the shortlist uses the data already loaded", exc)

    # 2. Featurize new or changed videos only (cached by content hash).
    try:
        extra = {"progress": progress["featurize"]} if progress and "featurize" in progress else {}
        feat = timed("featurize", fns["featurize"], home, settings, as_of=as_of, **extra)
        result.videos_featurized = int(getattr(feat, "done", 0))
        result.videos_unread = sum(1 for f in getattr(feat, "failures", None) or []
                                   if isinstance(f, dict) and f.get("status") == "unreadable")
        result.failures += [f"video: {f}" for f in _failure_lines(feat, "failures")]
        result.notes.append(
            f"{result.videos_featurized} videos analysed, {int(getattr(feat, 'cached', 0))} from cache"
        )
        logger.info("featurize: %s done, %s cached, %s failed", getattr(feat, "done", "?"),
                    getattr(feat, "cached", "?"), getattr(feat, "failed", "?"))
    except Exception as exc:
        stage_failed(f"{FEATURIZE_FAILED}; posts without video features are scored without them", exc)


def publish_artifacts(result: NightlyResult) -> None:
    """A table of the top picks and a link to the report, on the flow run's page in the Prefect UI."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    picks = top_picks_table(result.shortlist, per_advertiser=3)
    create_table_artifact(
        picks or [{"advertiser": "", "rank": 0, "post": "no candidates", "creator": "", "uplift": "", "why": ""}],
        key="sparkpick-top-picks", description=f"Top picks per advertiser, as of {result.report_date}",
    )
    if result.report is not None:
        create_link_artifact(result.report.html.as_uri(), link_text=f"Shortlist {result.report_date}",
                             key="sparkpick-report", description=f"Open from disk: {result.report.html}")
    create_markdown_artifact(nightly_markdown(result), key="sparkpick-nightly-summary")


def nightly_markdown(result: NightlyResult) -> str:
    """The night's summary artifact; failure lines quote posts, paths and cells, so they are made inert."""
    failed = result.stage_failures + result.failures[:20]
    lines = [f"# Nightly {result.report_date}", "",
             f"- candidates considered: {result.candidates}",
             f"- shortlisted: {len(result.shortlist)}",
             f"- model version: {markdown_safe(result.model_version or 'unknown')}",
             f"- report: {markdown_safe(result.report.html if result.report else 'none')}",
             f"- failures: {len(result.stage_failures) + len(result.failures)}",
             f"- live boosts: {result.live_boosts}"]
    if line := track_record_sentence(result.track_record):
        lines.append(f"- model track record: {markdown_safe(line)}")
    if due := retrain_sentence(result.track_record):
        lines.append(f"- **{markdown_safe(due)}**")
    lines += [f"  - {markdown_safe(line)}" for line in failed]
    return "\n".join(lines)
