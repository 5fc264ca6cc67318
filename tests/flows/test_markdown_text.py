"""Outside text in the flows' Markdown artifacts renders as itself: no link, image, HTML or broken table."""

from __future__ import annotations

import html

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from flows.featurize import FeaturizeSummary, featurize_markdown
from flows.markdown_text import markdown_safe
from flows.nightly import NightlyResult, nightly_markdown

HOSTILE = [
    "![pixel](https://tracker.example/p.png)",
    "[click me](javascript:alert(1))",
    "<img src=x onerror=alert(1)><script>alert(2)</script>",
    "**bold** _it_ `code` ~~gone~~ | a | b |",
    "line one\n# Heading\n> quote\n- item",
    "/videos/a_b*c[1](2)!.mp4 & more\\",
    "https://evil.example/path",
]
RENDER = MarkdownIt("commonmark").enable("table")


def _rendered(markdown: str) -> str:
    return RENDER.render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_outside_text_renders_as_itself(text: str) -> None:
    out = _rendered(markdown_safe(text))
    assert out.startswith("<p>") and out.count("<") == 2, out  # one paragraph, no other element
    shown = html.unescape(out.removeprefix("<p>").removesuffix("</p>\n"))
    assert shown == " ".join(text.split("\n"))  # every character shown, the line breaks as spaces


def test_empty_values() -> None:
    assert markdown_safe(None) == "" and markdown_safe(float("nan")) == ""


def test_the_nightly_summary_quotes_failures_inertly() -> None:
    result = NightlyResult(as_of=pd.Timestamp("2026-11-01"), report_date="2026-11-01", shortlist=pd.DataFrame(),
                           failures=[f"post 1: {text}" for text in HOSTILE], stage_failures=["ingest: <b>x</b>"])
    out = _rendered(nightly_markdown(result))
    for tag in ("<a ", "<img", "<script", "<b>", "<strong", "<em", "<code", "<blockquote", "<h2"):
        assert tag not in out, tag
    assert out.count("<h1>") == 1 and "javascript:alert(1)" in out


def test_the_featurize_table_keeps_its_columns() -> None:
    failures = [{"post_id": "7301", "status": "failed", "reason": text} for text in HOSTILE]
    out = _rendered(featurize_markdown(FeaturizeSummary(failed=len(HOSTILE), failures=failures)))
    assert out.count("<tr>") == len(HOSTILE) + 1 and out.count("<td>") == 3 * len(HOSTILE)
    assert "<img" not in out and "<a " not in out and "<script" not in out


def test_bidi_controls_and_invisible_characters_are_taken_out() -> None:
    assert markdown_safe("@\u202egnp.exe") == "@gnp\\.exe"
    assert markdown_safe("a\u2066b\u2069\u200bc") == "abc"
