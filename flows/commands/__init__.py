"""CLI commands, one module per stage. Each module has `register(app)` and imports heavy libraries lazily."""

from __future__ import annotations

from importlib import import_module

import typer

_MODULES = ("data", "world", "video", "tabular", "model", "nightly", "monitor", "actions", "demo")


def register_all(app: typer.Typer) -> None:
    for name in _MODULES:
        import_module(f"flows.commands.{name}").register(app)
