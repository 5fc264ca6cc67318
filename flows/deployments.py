"""Every Prefect flow, the scheduled deployments (`nightly` daily, `train` weekly, `monitor` hourly) and serving
them from one process.

The flows only wire: each resolves its invocation and calls a plain function (`run_nightly`, `train_model`,
`score_candidates`, `run_monitor`). They live here, not beside those functions, so that the plain path
(the CLI without Prefect, cron, tests) never imports Prefect; `featurize_flow`, which needs prefect-dask's
task runner, is built on first use in `flows/featurize.py`.

Schedules need a real Prefect server: `serve_deployments` uses the API the user configured
(PREFECT_API_URL, in the environment or the active Prefect profile) and otherwise starts
`prefect server start` on 127.0.0.1 itself (`flows/prefect_server.py`), its database under `<home>/prefect/`,
and stops it on exit.
`prefect.yaml` at the repository root declares the same deployments for `prefect deploy --all` (work pools
and remote workers); it is written from `build_deployments` (`python -m flows.prefect_yaml`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow

from flows.invocation import PREFECT_FOLDER, export, resolve
from flows.lock import SERVE_LOCK, run_lock
from flows.prefect_server import API_URL_ENV, SERVER_HOST, configured_api_url, free_port, local_prefect_server
from sparkpick.config import Settings
from sparkpick.errors import InputError, SparkpickError
from sparkpick.home import Home

if TYPE_CHECKING:
    import pandas as pd

    from flows.train import TrainResult

NIGHTLY = "nightly"
TRAIN = "train"
MONITOR = "monitor"
APPROVAL = "approval"


@flow(name="nightly", validate_parameters=True)
def nightly_flow(home_dir: str | None = None, config_file: str | None = None,
                 as_of: str | None = None, dask_address: str | None = None,
                 dask_workers: int | None = None) -> dict[str, Any]:
    """Ingest, featurize, score with the champion and write the shortlist report for one night.

    `dask_address` / `dask_workers` override `video.dask_address` / `video.dask_workers`: the videos are
    then decoded on that Dask cluster, through prefect-dask's task runner.
    """
    from prefect import get_run_logger

    from flows.ingest import fed_settings
    from flows.nightly import publish_artifacts, run_nightly
    from flows.runners import PrefectRunner
    from sparkpick.config import with_dask

    inv = resolve(home_dir, config_file)  # a deployment's run starts here, not in the CLI
    settings = fed_settings(inv.home, with_dask(inv.settings, dask_address, dask_workers), inv.named_source)
    result = run_nightly(
        inv.home, settings, as_of=inv.as_of(as_of, settings, "as_of"), ran_at=inv.now,
        runner=PrefectRunner(settings.nightly.retries, settings.nightly.retry_delay_s),
        logger=get_run_logger(), access_token=inv.access_token(settings.ingest.source),
    )
    publish_artifacts(result)
    approval = request_approval(inv, result.shortlist, result.as_of)
    if approval:
        get_run_logger().info("%s", approval)
    if result.stage_failures:
        raise SparkpickError(
            "The night finished with failed stages (the report was written and lists them): "
            + "; ".join(result.stage_failures)
        )
    return {"report": str(result.report.html) if result.report else None, "as_of": str(result.as_of),
            "candidates": result.candidates, "shortlisted": len(result.shortlist),
            "failures": len(result.failures)}


@flow(name="train", log_prints=True)
def train_flow(home: Home, settings: Settings, until: str | None = None, promote: str = "auto") -> TrainResult:
    """`train_model` as a Prefect flow."""
    from flows.train import train_model

    return train_model(home, settings, until=until, promote=promote)


@flow(name="score", log_prints=True)
def score_flow(home: Home, settings: Settings, as_of: str | None = None, top_k: int | None = None,
               model_uri: str | None = None) -> pd.DataFrame:
    """`score_candidates` as a Prefect flow."""
    from flows.train import score_candidates

    return score_candidates(home, settings, as_of=as_of, top_k=top_k, model_uri=model_uri)


@flow(name="train-weekly", validate_parameters=True)
def train_weekly_flow(home_dir: str | None = None, config_file: str | None = None) -> dict[str, Any]:
    """Retrain the ranker on every finished boost; the promotion gate decides whether it becomes champion."""
    from flows.train import train_model

    inv = resolve(home_dir, config_file)  # a deployment's run starts here, not in the CLI
    result = train_model(inv.home, inv.settings)
    return {"model_version": result.model_version, "promoted_to": result.promoted_to,
            "reason": result.promotion_reason}


@flow(name="monitor", validate_parameters=True)
def monitor_flow(home_dir: str | None = None, config_file: str | None = None, as_of: str | None = None
                 ) -> dict[str, Any]:
    """Watch the live boosts now: write reports/live/<time>.csv and latest.csv, publish a table artifact, and
    carry out the pause / scale decisions as `actions.modes` allows (flows/actions.py)."""
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from flows.actions import act_on_decisions, carried_lines
    from flows.markdown_text import markdown_safe
    from flows.monitor import LIVE_DIR, run_monitor, write_live_csv
    from sparkpick.wording import retrain_sentence, track_record_sentence

    inv = resolve(home_dir, config_file)  # a deployment's run starts here, not in the CLI
    home = inv.home
    run = run_monitor(home, inv.settings, inv.time(as_of, "as_of") or inv.now)
    folder = home.reports / LIVE_DIR
    path = write_live_csv(run, folder / f"{run.as_of:%Y-%m-%dT%H%M}.csv")
    write_live_csv(run, folder / "latest.csv")
    get_run_logger().info("%d live boost(s); %s", len(run.boosts), path)
    rows = [{"advertiser": str(r["advertiser_id"]), "post": str(r["post_id"]), "decision": str(r["decision"]),
             "reason": str(r["reason"])} for r in run.boosts.to_dict("records")]
    create_table_artifact(rows or [{"advertiser": "", "post": "no live boosts", "decision": "", "reason": ""}],
                          key="sparkpick-live-boosts", description=f"Live boosts as of {run.as_of} UTC")
    record = run.track_record.to_dict() if run.track_record is not None else None
    if line := track_record_sentence(record):
        create_markdown_artifact(f"Model track record: {line}\n\n{retrain_sentence(record)}",
                                 key="sparkpick-track-record")
    carried = act_on_decisions(inv, run)
    if lines := carried_lines(carried):
        for line in lines:
            get_run_logger().info("%s", line)
        create_markdown_artifact("\n".join(f"- {markdown_safe(line)}" for line in lines), key="sparkpick-actions",
                                 description=f"The monitor's decisions on the ad accounts as of {run.as_of} UTC")
    decisions = run.boosts["decision"].value_counts().to_dict() if len(run.boosts) else {}
    return {"as_of": str(run.as_of), "live_boosts": len(run.boosts), "csv": str(path),
            "decisions": {str(k): int(v) for k, v in decisions.items()},
            "actions": {o.post_id: o.status for o in carried.outcomes}, "stopped": carried.stopped}


def request_approval(inv: Any, shortlist: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """Start an approval flow run for the night's ready-to-boost picks (flows/approval.py), when there are
    any and the `approval` deployment is served; returns what happened, in a line ("" when nothing to ask)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    from flows.approval import ready_picks

    picks = ready_picks(shortlist, inv.settings)
    if not picks:
        return ""
    params = {**inv.flow_parameters(), "as_of": f"{as_of:%Y-%m-%dT%H:%M:%S}",
              "picks": [p.__dict__ for p in picks]}
    try:
        run = run_deployment(f"{APPROVAL}/{APPROVAL}", parameters=params, timeout=0)
    except ObjectNotFound:
        return (f"{len(picks)} pick(s) ready to boost, but no '{APPROVAL}' deployment is served (`sparkpick "
                "serve`): approve them with `sparkpick launch`")
    # Called from synchronous code, run_deployment returns the flow run itself, not a coroutine.
    return f"{len(picks)} pick(s) await approval in flow run {run.name} ({run.id})"  # type: ignore[union-attr]


@flow(name="approval", validate_parameters=True)
def approval_flow(picks: list[dict[str, Any]], home_dir: str | None = None, config_file: str | None = None,
                  as_of: str | None = None) -> dict[str, Any]:
    """Wait for a person to approve the night's ready-to-boost picks, then launch the approved ones.

    Suspended (not paused: no process and no lock are held while it waits) with a typed form in the Prefect
    UI: per pick a tick box and a proposed daily budget. Resumed with the answer (the UI's form, or
    `resume_flow_run(id, run_input=...)`), it launches the ticked picks through flows/approval.py; after
    `actions.approval_timeout_hours` without an answer Prefect ends it, and nothing is approved.
    """
    import pandas as pd
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import get_run_context
    from prefect.flow_runs import suspend_flow_run
    from prefect.input import RunInput
    from pydantic import create_model

    from flows.approval import Pick, approval_fields, launch_approved, record_waiting
    from flows.markdown_text import markdown_safe
    from sparkpick.wording import action_sentence

    inv = resolve(home_dir, config_file)
    settings, home = inv.settings, inv.home
    offered = [Pick(**p) for p in picks]
    moment = inv.time(as_of, "as_of") or inv.now
    run_id = f"approval-{get_run_context().flow_run.id}"  # type: ignore[union-attr]
    hours = settings.actions.approval_timeout_hours
    record_waiting(home, offered, run_id, moment, inv.now + pd.Timedelta(hours=hours))
    form = create_model("ApproveSparkAds", __base__=RunInput, **approval_fields(offered))  # type: ignore[call-overload]
    answer = suspend_flow_run(wait_for_input=form, timeout=int(hours * 3600), key="approval")
    outcomes = launch_approved(home, settings, inv.token.read(), offered, answer.model_dump() if answer else {},
                               run_id=run_id, approver="person:prefect-ui", as_of=moment)
    lines = [action_sentence(o.kind, o.post_id, o.status, o.reason, o.ad_id) for o in outcomes]
    create_markdown_artifact("\n".join(f"- {markdown_safe(line)}" for line in lines) or "Nothing was approved.",
                             key="sparkpick-approval")
    return {o.post_id: o.status for o in outcomes}


def build_deployments(home: Home | None, settings: Settings, config_file: Path | None = None) -> list[Any]:
    """The `nightly` and `train` deployments, scheduled by `nightly.cron`/`train_cron` in `nightly.timezone`,
    and the hourly `monitor` (live boosts) on `monitor.cron` unless that is empty.

    Each runs at most once at a time (a deployment concurrency limit; late runs queue up), on top of the
    nightly run's own file lock. With no `home` the runs take no parameters: a worker's SPARKPICK_HOME
    decides (prefect.yaml, written from these by `flows/prefect_yaml.py`).
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    cfg = settings.nightly
    params = {} if home is None else {
        "home_dir": str(home.root), "config_file": str(Path(config_file).resolve()) if config_file else None}
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    nightly = nightly_flow.to_deployment(
        NIGHTLY, schedule=Cron(cfg.cron, timezone=cfg.timezone), parameters=params,
        concurrency_limit=one_at_a_time,
        description="Ingest what is new, featurize new videos, score with the champion, write the shortlist.",
        tags=["sparkpick"],
    )
    train = train_weekly_flow.to_deployment(
        TRAIN, schedule=Cron(cfg.train_cron, timezone=cfg.timezone), parameters=params,
        concurrency_limit=one_at_a_time,
        description="Retrain the ranker; promote it only if it beats the champion.", tags=["sparkpick"],
    )
    # Started by each night (request_approval) when it has picks to offer; never on a schedule.
    approval = approval_flow.to_deployment(
        APPROVAL, parameters=params, tags=["sparkpick"],
        description="A person approves the night's ready-to-boost picks (a form); the approved ones are launched.",
    )
    if not settings.monitor.cron:
        return [nightly, train, approval]
    # A late monitor run is worthless once the next hour's is due: skip it rather than queue it.
    skip_late = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    monitor = monitor_flow.to_deployment(
        MONITOR, schedule=Cron(settings.monitor.cron, timezone=cfg.timezone), parameters=params,
        concurrency_limit=skip_late,
        description="Watch the live boosts: keep, pause or add budget, and why; writes reports/live/.",
        tags=["sparkpick"],
    )
    return [nightly, train, monitor, approval]


def serve_deployments(
    home: Home,
    settings: Settings,
    config_file: Path | None = None,
    echo: Callable[[str], None] = print,
    api_url: str | None = None,
) -> None:
    """Serve the nightly and train deployments with their schedules until interrupted (Ctrl-C / SIGTERM).

    Uses `api_url` or the configured Prefect API; with none, starts a local server and stops it on exit.
    One `serve` per home, for its whole life (`<home>/data/serve.lock`): a second would serve the same
    deployments from the same database, and Prefect's runner pauses every deployment it served when it
    stops, so the first would go on "serving" schedules that never fire. A second one stops at once
    (`InputError`, exit 2) naming the first's process, before it starts or registers anything.
    """
    path = home.data / SERVE_LOCK
    with run_lock(path, 0, what="sparkpick serve", busy=lambda holder: ServeRunning(
            f"Another `sparkpick serve` is already serving this home ({holder}): it holds {path}. A second one "
            "would serve the same deployments and pause them when it stops. Stop the first one to restart it, "
            "or serve another --home.")):
        _serve_locked(home, settings, config_file, echo, api_url)


class ServeRunning(InputError):
    """A `sparkpick serve` already serves this home (exit status 2)."""


def _serve_locked(home: Home, settings: Settings, config_file: Path | None, echo: Callable[[str], None],
                  api_url: str | None) -> None:
    url = api_url or configured_api_url()
    if url:
        echo(f"Using the Prefect API at {url}")
        _serve(home, settings, config_file, url, echo)
        return
    port = free_port(settings.nightly.server_port)
    prefect_home = home.root / PREFECT_FOLDER
    echo(f"No Prefect API configured: starting a local Prefect server on {SERVER_HOST}:{port} "
         f"(data in {prefect_home}, log in {prefect_home / 'server.log'}) ...")
    try:
        with local_prefect_server(prefect_home, port, settings.nightly.server_start_timeout_s) as url:
            echo(f"Prefect UI: {url.removesuffix('/api')}")
            _serve(home, settings, config_file, url, echo)
    finally:
        # Prefect's runner may end the process with SystemExit on SIGTERM: the server is still stopped
        # (the context manager's cleanup runs), and the user is still told.
        echo("Prefect server stopped.")


def _serve(home: Home, settings: Settings, config_file: Path | None, url: str,
           echo: Callable[[str], None]) -> None:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Flow runs started by the runner are subprocesses: they read the API from the environment.
    export(API_URL_ENV, url)
    cfg = settings.nightly
    with temporary_settings(updates={PREFECT_API_URL: url}):
        deployments = build_deployments(home, settings, config_file)
        hourly = f", '{MONITOR}' ({settings.monitor.cron})" if settings.monitor.cron else ""
        hourly += f", '{APPROVAL}' (started by each night with picks to approve)"
        echo(f"Serving '{NIGHTLY}' ({cfg.cron}), '{TRAIN}' ({cfg.train_cron}){hourly}, {cfg.timezone}; "
             f"home {home.root}. Trigger a run now: prefect deployment run 'nightly/{NIGHTLY}'. "
             "Stop with Ctrl-C.")
        previous = signal.getsignal(signal.SIGTERM)
        # A service manager stops us with SIGTERM: unwind like Ctrl-C so the local server is stopped too.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            serve(*deployments, print_starting_message=False)
        except KeyboardInterrupt:
            echo("Stopping ...")
        finally:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
