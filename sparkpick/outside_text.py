"""Text from outside (captions, handles, advertiser names, reasons, a bad cell quoted in an error) made to show
as it reads, wherever it is shown: the terminal (`flows/commands/terminal_text.py`), the HTML report
(`sparkpick/report/page.py`, every value the template prints) and the Prefect artifacts' Markdown
(`flows/markdown_text.py`). The one place that decides which characters of it may be shown.

Such text may carry escape sequences that clear the screen, retitle the window or plant a hyperlink
(`ESC [2J`, `ESC ]8;;http://…BEL`), bidi controls that make a handle read backwards (`\\u202egnp.exe` reads
as "exe.png"), and zero-width characters that make two names look the same. Each medium adds its own
escaping on top (`html.escape` by Jinja2's autoescape, Markdown's, the spreadsheet's formula guard).
"""

from __future__ import annotations

import re
import unicodedata

# Whole escape sequences first, so that no half of one is left to read: CSI (`ESC [` or 0x9B, parameters,
# a final byte), OSC/DCS/APC/PM/SOS strings up to BEL or ST (`ESC ]8;;http://…BEL` is a hyperlink), and the
# two-byte ones.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
# Then any control left: C0 but tab and newline, DEL, C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Whitespace that would start a new line or jump: in a one-line field (a table cell, a title) it is a space.
_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
_LINE_BREAKS = re.compile(r"[\x0b\x0c\r\x85\u2028\u2029]")  # in a message of several lines: a newline
# Bidi embeddings, overrides and isolates, and the marks (they reorder what is shown); invisible characters
# that make two names look the same (zero-width space and non-joiner, word joiner, invisible operators, BOM,
# Mongolian vowel separator). The zero-width joiner is handled apart (emoji sequences need it).
_INVISIBLE = re.compile("[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u180e\ufeff]")
_ZWJ = "\u200d"
_EMOJI_BEFORE_ZWJ = {"So", "Sk", "Mn"}  # a pictograph, a skin tone, or the emoji presentation selector


def _is_missing(value: object) -> bool:
    """None, NaN, NaT and pandas' NA, without importing pandas."""
    if value is None or isinstance(value, str):
        return value is None
    try:
        differs: object = value != value  # true only for NaN and NaT
    except Exception:  # an odd object whose comparison fails: not missing
        return False
    if isinstance(differs, bool) or type(differs).__name__ == "bool_":
        return bool(differs)
    return type(value).__name__ == "NAType"  # pd.NA: its comparison is itself NA


def _joiners(text: str) -> str:
    """Zero-width joiners out, except inside an emoji sequence (a pictograph on both sides)."""
    if _ZWJ not in text:
        return text
    out = []
    for i, char in enumerate(text):
        if char == _ZWJ:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if not (before and after and unicodedata.category(before) in _EMOJI_BEFORE_ZWJ
                    and unicodedata.category(after) == "So"):
                continue
        out.append(char)
    return "".join(out)


def visible_text(value: object, *, lines: bool = False) -> str:
    """`value` as a plain string that shows as it reads: control characters (ESC included), bidi controls
    and spoofing zero-width characters removed, unpaired surrogates replaced, None and NaN as "".
    One line unless `lines` (then newlines and tabs stay, for a message of several lines)."""
    if _is_missing(value):
        return ""
    # A lone surrogate (from a bad decode) cannot be encoded for the terminal: the replacement character.
    text = _SURROGATE.sub("\ufffd", str(value))
    if text.isprintable():  # the common case: nothing to take out but what is printable yet invisible
        return _joiners(_INVISIBLE.sub("", text))
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    text = _BREAKS.sub(" ", text) if not lines else _LINE_BREAKS.sub("\n", text)
    return _joiners(_INVISIBLE.sub("", _CONTROL.sub("", text)))
