"""The shortlist a marketer reads: a CSV and one self-contained HTML page per run (`page.py` builds the
page, pure; `files.py` writes it; `charts.py` draws a live boost's delivery). Its words come from
`sparkpick.wording`."""

from sparkpick.report.charts import charts_by_boost, delivery_chart
from sparkpick.report.files import (
    LIVE_BOOSTS_CSV,
    ReportPaths,
    load_thumbnails,
    reuse_report,
    shortlist_csv_frame,
    write_report,
)
from sparkpick.report.page import (
    MonitorView,
    ReportMeta,
    add_display_flags,
    data_uri,
    flag_legend,
    live_views,
    post_link,
    render_shortlist_html,
    shortlist_views,
)

__all__ = [
    "LIVE_BOOSTS_CSV",
    "MonitorView",
    "ReportMeta",
    "ReportPaths",
    "add_display_flags",
    "charts_by_boost",
    "data_uri",
    "delivery_chart",
    "flag_legend",
    "live_views",
    "load_thumbnails",
    "post_link",
    "render_shortlist_html",
    "reuse_report",
    "shortlist_csv_frame",
    "shortlist_views",
    "write_report",
]
