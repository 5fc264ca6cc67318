"""The TikTok API for Business source.

`client.py` is the HTTP client (envelope, errors, throttling back-off, pagination); `records.py` maps one
API record to contract values; `fetch.py` reads the configured accounts and advertisers, `reports.py` their
report rows on the advertiser's clock, and `assemble.py` makes the contract tables of what they gathered
(`fields.py` says which API field feeds which column); `partnerships.py` holds the contracts the API does
not know, read from a partnerships file; `source.py` is the `tiktok` source the ingest finds in the
registry. The names below are imported on first use, so that naming the source does not load the HTTP
client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparkpick.sources.tiktok.client import (
        TikTokApiError,
        TikTokClient,
        TikTokPermissionError,
        TikTokTokenError,
        TikTokUnavailableError,
    )
    from sparkpick.sources.tiktok.fetch import account_advertisers, fetch_tables
    from sparkpick.sources.tiktok.fields import ACCOUNT_GET, AD_GET, REPORT, SPARK_LIST, VIDEO_LIST
    from sparkpick.sources.tiktok.partnerships import configured_advertisers, read_partnerships
    from sparkpick.sources.tiktok.records import BadRecord, FetchProblem, FetchResult, item_posted_at
    from sparkpick.sources.tiktok.reports import report_windows

_HOMES = {
    "client": ("TikTokApiError", "TikTokClient", "TikTokPermissionError", "TikTokTokenError",
               "TikTokUnavailableError"),
    "fetch": ("account_advertisers", "fetch_tables"),
    "fields": ("ACCOUNT_GET", "AD_GET", "REPORT", "SPARK_LIST", "VIDEO_LIST"),
    "partnerships": ("configured_advertisers", "read_partnerships"),
    "records": ("BadRecord", "FetchProblem", "FetchResult", "item_posted_at"),
    "reports": ("report_windows",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ACCOUNT_GET",
    "AD_GET",
    "REPORT",
    "SPARK_LIST",
    "VIDEO_LIST",
    "BadRecord",
    "FetchProblem",
    "FetchResult",
    "TikTokApiError",
    "TikTokClient",
    "TikTokPermissionError",
    "TikTokTokenError",
    "TikTokUnavailableError",
    "account_advertisers",
    "configured_advertisers",
    "fetch_tables",
    "item_posted_at",
    "read_partnerships",
    "report_windows",
]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
