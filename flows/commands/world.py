"""(Placeholder: commands of this stage are added by its issue.)"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
