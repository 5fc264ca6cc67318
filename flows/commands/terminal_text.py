"""Text from outside (captions, handles, advertiser names, reasons, a bad cell quoted in an error) made safe to
show in a terminal. Which characters may be shown is decided once, for every medium, in
`sparkpick/outside_text.py` (no escape sequence, bidi control or spoofing invisible character); here rich
markup (`[bold red]…[/]`) is kept from restyling the table: the text is printed literally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkpick.outside_text import visible_text

if TYPE_CHECKING:
    from rich.text import Text


def terminal_safe(value: object, *, lines: bool = False) -> str:
    """`value` as a plain string a terminal shows as it reads (`sparkpick.outside_text.visible_text`). Rich
    markup is not touched: print the result as `rich.text.Text` (`shown`) or with `markup=False`, never as
    markup."""
    return visible_text(value, lines=lines)


def shown(value: object, style: str = "", *, lines: bool = False) -> Text:
    """`terminal_safe(value)` as a `rich.text.Text`: rich prints it literally (no markup, no emoji codes)."""
    from rich.text import Text

    return Text(terminal_safe(value, lines=lines), style=style)
