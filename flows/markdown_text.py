"""Outside text made inert in the Markdown that Prefect's UI renders (the flows' artifacts).

A video path, a post id or a reason that quotes a bad cell comes from the brand's files or the API. In
an artifact, `![x](https://tracker/p.png)` would load a remote image in the operator's browser, and
`[click](…)`, raw HTML or a `|` would turn a summary into a link or break its table. Each piece of
outside text goes through `markdown_safe` before it joins an artifact's Markdown.
"""

from __future__ import annotations

import re

from sparkpick.outside_text import visible_text

# One line: a newline or other control character could start a new block (a heading, a list, HTML).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Characters that open Markdown constructs (links, images, emphasis, code, tables, headings, quotes).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>.:])")


def markdown_safe(value: object) -> str:
    """`value` as text that renders as itself inside a Markdown paragraph, list item or table cell."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    # One line, shown as it reads (no bidi control or invisible character: sparkpick/outside_text.py).
    text = _CONTROL.sub(" ", visible_text(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # no raw HTML
    return _SPECIAL.sub(r"\\\1", text)
