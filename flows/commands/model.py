"""`sparkpick train`, `sparkpick score` and `sparkpick ui`: the ranker's commands.

The MLflow store is the invocation's (`flows/invocation.py`): `mlflow.tracking_uri`, else the standard
`MLFLOW_TRACKING_URI` environment variable, else the home's own store, the same for every command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table


UI_STOP_TIMEOUT_S = 10
_METRIC_LABELS = {"ndcg_at_k": "NDCG@{k}", "precision_at_k": "precision@{k}", "captured_at_k": "captured@{k}"}


def metrics_table(metrics: pd.DataFrame, k: int, title: str) -> Table:
    """The evaluation table: one row per ordering, the model first."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("ordering")
    for metric in metrics.columns:
        table.add_column(_METRIC_LABELS.get(metric, metric).format(k=k), justify="right")
    for name, row in metrics.iterrows():
        style = "bold" if name == metrics.index[0] else None
        table.add_row(str(name), *(f"{v:.3f}" for v in row.to_numpy()), style=style)
    return table


def train(
    ctx: typer.Context,
    until: Annotated[
        str | None, typer.Option(help="Use only boosts whose results ended before this time (ISO 8601, UTC).")
    ] = None,
    promote: Annotated[
        str, typer.Option(help="auto: champion only if it beats the current one; never; force.")
    ] = "auto",
) -> None:
    """Train the uplift ranker, compare it with the baselines, log it to MLflow and apply the gate."""
    from rich.console import Console

    from flows.train import train_model

    settings = ctx.obj.settings
    console = Console()
    with console.status("training the ranker and its baselines..."):
        result = train_model(ctx.obj.home, settings, until=ctx.obj.time(until, "--until"), promote=promote)
    k = settings.ranker.shortlist_k
    console.print(f"data: {result.split}")
    console.print(
        f"features: {result.features} ({result.feature_version}); "
        f"propensity weighting: {'on' if result.propensity_weighted else 'off'}"
    )
    console.print(result.model_summary)
    console.print(f"MLflow run {result.run_id} in {result.tracking_uri}")
    where = f"alias '{result.promoted_to}'" if result.promoted_to else "no alias"
    console.print(f"registered {result.model_name} v{result.model_version} ({where}): {result.promotion_reason}")
    counts = result.propensities
    if counts:
        console.print(f"boosts with a propensity: {counts.get('from_scores', 0)} from the night they were scored, "
                      f"{counts.get('from_data', 0)} from the data; {counts.get('none', 0)} with no propensity")
    if result.off_policy is not None:
        dr = result.off_policy[result.off_policy["estimator"] == "dr"]
        shown_dr = "; ".join(f"{r.policy} {r.value:.3f} ({r.low:.3f} to {r.high:.3f})" for r in dr.itertuples())
        console.print(f"off-policy, doubly robust uplift per advertiser-night: {shown_dr} "
                      "(all estimators: `sparkpick evaluate`, and the MLflow run)")
    console.print(metrics_table(
        result.metrics, k, f"Validation decisions: model vs baselines (gate metric: {result.metric_name})"
    ))


def score(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option(help="Decision time (ISO 8601, UTC); default now (demo source: its end).")
    ] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Posts per advertiser (default: report.top_k).")] = None,
    model_uri: Annotated[
        str | None, typer.Option(help="Model to use (default models:/<model_name>@champion).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the shortlist to this CSV file.")] = None,
) -> None:
    """Score every advertiser's candidates with the champion and print (or write) the shortlist."""
    from rich.console import Console
    from rich.table import Table

    from flows.commands.terminal_text import shown
    from flows.train import score_candidates
    from sparkpick.wording import advertiser_label, ratio_phrase, ratio_range_phrase

    settings = ctx.obj.settings
    top_k = settings.report.top_k if top is None else top  # `--top 0` is refused above, never "the default"
    console = Console()
    # Now when not given; for the demo world, its last day (as the nightly run does).
    moment = ctx.obj.as_of(as_of, settings)
    from sparkpick.shortlist import top_per_advertiser
    from sparkpick.warehouse import SCORES
    from sparkpick.wording import (
        PRIOR_BAND_NOTE,
        TEST_PICK_LABEL,
        TEST_PICK_SENTENCE,
        boost_again_sentence,
        boosts_known,
        held_back_sentence,
        left_out_sentence,
        ranking_headline,
        ranking_label,
    )

    scored = score_candidates(ctx.obj.home, settings, as_of=moment, top_k=top_k, model_uri=model_uri, cut=False)
    shortlist = top_per_advertiser(scored, top_k)
    others = scored[scored["status"] != ""] if "status" in scored.columns else None
    if shortlist.empty:
        console.print("No candidates: no advertiser has posts in the candidate window before this time.")
    else:
        first = shortlist.iloc[0]
        console.print(
            f"Top {top_k} per advertiser, scored as of {first['as_of']} with model v{first['model_version']} "
            f"(run {first['run_id']}); all scores are in the warehouse table '{SCORES}'"
        )
        if headline := ranking_headline(first.get("model_kind"), boosts_known(shortlist)):
            console.print(headline, style="bold", markup=False)
        band_name = "cost per conversion"
        # One table per advertiser (by id: two ad accounts may share a name): a long name costs a title
        # line instead of a column, and the reason, the column a marketer reads, keeps its width.
        for advertiser_id, mine in shortlist.groupby("advertiser_id", sort=False):
            who = advertiser_label(mine.iloc[0])
            title = who if who != str(advertiser_id) else f"advertiser {advertiser_id}"
            table = Table(title=shown(f"Top {top_k} for {title}"), title_justify="left", expand=True)
            table.add_column("rank", no_wrap=True)
            # a TikTok id is 19 digits: never cut (the creator's handle folds under it)
            table.add_column("post, creator", overflow="fold", min_width=19, max_width=24)
            table.add_column(band_name, overflow="fold", max_width=16)
            table.add_column("main reason", overflow="fold", ratio=1, min_width=24)  # what a marketer reads
            for _, row in mine.sort_values("rank", kind="stable").iterrows():
                likely = ratio_range_phrase(row.get("uplift_ratio_low"), row.get("uplift_ratio_high"), unit=False)
                band = f"{ratio_phrase(row['uplift_ratio'])}" + (f" (likely {likely})" if likely else "")
                # ids, handles and reasons are text from outside: shown as they read, never as markup
                post_and_creator = shown(row["post_id"]).append("\n").append(shown(row.get("creator_handle")))
                rank = f"{row['rank']}\n{TEST_PICK_LABEL}" if row.get("is_test_pick") in (True,) else str(row["rank"])
                table.add_row(rank, post_and_creator, band, shown(row["reason_1"]))
            console.print(table)
            for _, row in (others if others is not None else shortlist.iloc[:0]).iterrows():
                if row["advertiser_id"] == advertiser_id and row.get("boost_again") in (True,):
                    console.print(shown(f"post {row['post_id']}: {boost_again_sentence(row)}"))
                if row["advertiser_id"] == advertiser_id and row.get("held_back") in (True,):
                    console.print(shown(f"post {row['post_id']}: {held_back_sentence(row)}"))
        if "is_test_pick" in shortlist.columns and shortlist["is_test_pick"].fillna(False).astype(bool).any():
            console.print(f"{TEST_PICK_LABEL}: {TEST_PICK_SENTENCE}")
        if line := left_out_sentence(others):
            console.print(line)
        if ranking_label(first.get("model_kind")):
            console.print(f"cost per conversion: {PRIOR_BAND_NOTE}")
        else:
            console.print("cost per conversion: through a Spark Ad, against the advertiser's in-feed ads; in "
                          f"brackets, the likely range ({settings.ranker.band_coverage:.0%} of outcomes fall "
                          "inside it)")
    if out is not None:
        from sparkpick.spreadsheet import write_csv

        write_csv(out, shortlist)
        console.print(f"wrote {len(shortlist)} rows to {out}")


def evaluate(
    ctx: typer.Context,
    until: Annotated[
        str | None, typer.Option(help="Use only boosts whose results ended before this time (ISO 8601, UTC).")
    ] = None,
) -> None:
    """Estimate off-policy, on the logged boosts with a propensity, the uplift each policy would have
    captured per advertiser-night: the prior, the champion, the challenger and the brief's heuristic."""
    from rich.console import Console
    from rich.table import Table

    from flows.train import evaluate_policies_now

    settings = ctx.obj.settings
    console = Console()
    with console.status("estimating each policy on the logged boosts..."):
        evidence = evaluate_policies_now(ctx.obj.home, settings, until=until)
    counts = evidence.counts
    console.print(f"logged boosts: {counts.get('from_scores', 0)} with a propensity from the night they were "
                  f"scored, {counts.get('from_data', 0)} from the data, {counts.get('none', 0)} with no propensity")
    if evidence.table is None:
        console.print("No logged boost has a propensity: nothing to estimate off-policy; the promotion gate "
                      "falls back to the validation decisions.")
        return
    k = settings.ranker.shortlist_k
    table = Table(title=f"Uplift captured by a top-{k} shortlist per advertiser-night (log cost ratio, summed), "
                        f"on {evidence.n_logged} logged boosts", title_justify="left")
    for column in ("policy", "estimator", "estimate", "95% interval", "decisions", "effective boosts"):
        table.add_column(column, justify="left" if column in ("policy", "estimator") else "right")
    for row in evidence.table.itertuples(index=False):
        table.add_row(str(row.policy), str(row.estimator), f"{row.value:.3f}", f"{row.low:.3f} to {row.high:.3f}",
                      str(row.n_decisions), f"{row.effective_sample_size:.1f}")
    console.print(table)
    console.print("dr: doubly robust, the estimate the promotion gate uses; its reward model here is the "
                  "challenger's (else the champion's) prediction, which leans toward that model.")


def ui(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: mlflow.ui_host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: mlflow.ui_port).")] = None,
) -> None:
    """Start the MLflow UI on this home's store (loopback by default); Ctrl+C stops it."""
    settings = ctx.obj.settings
    home = ctx.obj.home
    uri = home.tracking_uri(settings)
    command = [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
        "--host", host or settings.mlflow.ui_host, "--port", str(settings.mlflow.ui_port if port is None else port),
    ]
    if not settings.mlflow.tracking_uri:
        command += ["--default-artifact-root", home.mlruns.as_uri()]
    typer.echo(f"MLflow UI on http://{host or settings.mlflow.ui_host}:{port or settings.mlflow.ui_port} "
               f"for {uri} (Ctrl+C to stop)")
    from flows.children import die_with_parent, kept_whole
    from flows.interrupt import sigterm_as_interrupt

    # Its own process group (MLflow's UI starts a web server and job runners, and leaves them running when
    # it alone is stopped) under a keeper that stops the group whole, also when this command is killed
    # outright (flows/children.py).
    proc = subprocess.Popen(kept_whole(command, UI_STOP_TIMEOUT_S), start_new_session=True,
                            preexec_fn=die_with_parent())  # before exec: prctl only
    try:
        with sigterm_as_interrupt():
            code = proc.wait()
    except KeyboardInterrupt:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=UI_STOP_TIMEOUT_S)
                break
            except subprocess.TimeoutExpired:
                continue
        code = 0
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("score")(score)
    app.command("evaluate")(evaluate)
    app.command("ui")(ui)
