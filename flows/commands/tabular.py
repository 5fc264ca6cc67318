"""`sparkpick features`: export point-in-time feature matrices to Parquet for data scientists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparkpick.errors import InputError
from sparkpick.files import atomic_path


def register(app: typer.Typer) -> None:
    @app.command("features")
    def features(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option(help="Parquet file to write.")],
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="Decision time (UTC unless an offset is given).")
        ] = None,
        advertiser: Annotated[str | None, typer.Option(help="Only this advertiser's rows.")] = None,
        training: Annotated[
            bool, typer.Option("--training", help="Export past boosts with their label instead of candidates.")
        ] = False,
        until: Annotated[
            str | None, typer.Option(help="With --training: only boosts whose results ended before this time.")
        ] = None,
    ) -> None:
        """Write one row per candidate post as of --as-of (or, with --training, one row per past boost
        with its group, uplift label and relevance grade), every feature column named in plain words.

        The file's metadata (pandas `attrs`) holds the feature version, the data-quality counts and a
        description of every feature column."""
        if training and as_of is not None:
            raise InputError("--as-of is for candidates; with --training use --until to cut off past boosts.")
        if not training and as_of is None:
            raise InputError("Give --as-of T for candidate rows, or --training for past boosts.")
        if until is not None and not training:
            raise InputError("--until only applies with --training.")
        # Checked before any data is read: a bad time costs nothing.
        moment, cutoff = ctx.obj.time(as_of, "--as-of"), ctx.obj.time(until, "--until")
        if out.suffix.lower() != ".parquet":
            raise InputError(f"--out {out} should be a .parquet file.")

        from features.matrix import candidate_matrix, describe_feature, feature_columns, training_matrix
        from features.quality import DataQualityReport
        from features.video.cues.catalogue import video_feature_version
        from features.video.table import video_of_posts
        from sparkpick.warehouse import read_model_inputs

        inv = ctx.obj
        settings, home = inv.settings, inv.home
        inputs = read_model_inputs(home.warehouse)
        tables, video = inputs.tables, video_of_posts(inputs, video_feature_version(settings.video))
        if training:
            frame = training_matrix(
                tables, settings, video=video, until=cutoff
            )
            if advertiser is not None:
                frame = frame[frame["advertiser_id"] == advertiser].reset_index(drop=True)
            what = f"{len(frame)} past boosts in {frame['group_id'].nunique()} decision groups"
        else:
            frame = candidate_matrix(
                tables, moment, settings, video=video, advertiser_id=advertiser
            )
            what = f"{len(frame)} candidates for {frame['advertiser_id'].nunique()} advertiser(s)"
        # Travels inside the file: `pd.read_parquet(out).attrs` gives versions, data quality and what
        # each feature column means.
        frame.attrs["feature_descriptions"] = {c: describe_feature(c) for c in feature_columns(frame)}
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:  # never a half-written file under the real name
            frame.to_parquet(tmp, index=False)
        typer.echo(f"Wrote {what}, {len(feature_columns(frame))} features "
                   f"(version {frame.attrs.get('feature_version')}) to {out}")
        report = DataQualityReport.from_dict(frame.attrs.get("data_quality", {}))
        for line in report.lines():
            typer.echo(f"  data quality: {line}")
        if video is None:
            typer.echo("  no video features in the warehouse yet: video cue columns are absent.")
