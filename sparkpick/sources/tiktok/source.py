"""The TikTok API for Business as a source (`tiktok`): the configured accounts and advertisers, fetched now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sparkpick.errors import InputError
from sparkpick.home import Home
from sparkpick.sources.base import Batch, GatherRequest, Source

if TYPE_CHECKING:
    from sparkpick.config import Settings


def partnerships_path(home: Home, settings: Settings, given: Path | None) -> Path | None:
    """The partnerships file for the TikTok source: `given`, else `tiktok.partnerships_file` (relative to
    the home), else None."""
    if given is not None:
        return given
    configured = settings.tiktok.partnerships_file
    return home.root / Path(configured).expanduser() if configured else None


class TikTokSource(Source):
    """`tiktok`: the API's records as of now; its state cannot be read cheaply, so every night fetches."""

    name = "tiktok"
    needs_token = True
    takes_partnerships = True

    def identity(self, home: Home, settings: Settings, spec: str) -> dict[str, object]:
        """The advertiser ids (never the token); other advertisers of the same account share a home."""
        return {"advertiser_ids": list(settings.tiktok.advertiser_ids)}

    def gather(self, home: Home, settings: Settings, spec: str, request: GatherRequest) -> Batch:
        """Fetch the contract tables (sparkpick/sources/tiktok/fetch.py) with `request.access_token`, as of
        `request.as_of` (the flow's moment: the core never reads the wall clock), with the partnerships
        file's contracts."""
        from sparkpick.contract import as_utc
        from sparkpick.sources.tiktok import TikTokClient, fetch_tables, read_partnerships

        if not request.access_token:
            raise InputError(
                f"The TikTok source needs an access token in the environment variable {settings.tiktok.token_env}."
            )
        path = partnerships_path(home, settings, request.partnerships)
        # A malformed file fails before any request. A row naming a creator the API does not return (a
        # contract signed before the creator authorised a post) is only reported: the night's ingest goes on.
        override = read_partnerships(path, settings.tiktok) if path is not None else None
        if request.as_of is None:
            raise ValueError("The TikTok source reads the account as of a moment its caller gives (request.as_of).")
        moment = as_utc(request.as_of)
        with TikTokClient(settings.tiktok.base_url, request.access_token, settings.tiktok) as client:
            fetched = fetch_tables(client, settings, moment, partnerships=override)
        return Batch(tables=fetched.tables, skip_invalid=True, problems=[str(p) for p in fetched.problems],
                     notes=[str(n) for n in fetched.notes])
