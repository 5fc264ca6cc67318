"""The invocation: everything a run takes from outside the code (options and the environment), resolved once.

The CLI (`flows/cli.py`) resolves it from its options; a Prefect flow that a deployment starts resolves it
from its parameters, in the process that serves it. Either way this module is the one place that reads the
environment: `SPARKPICK_HOME` (the home when none is given), `MLFLOW_TRACKING_URI` (the MLflow store when
the config leaves `mlflow.tracking_uri` empty, for every command and flow alike) and the TikTok token
(read from the variable `tiktok.token_env` names, only when a source needs it, and never stored).
Everything below receives an `Invocation`, its settings and home, or the token itself.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config stack is imported when a command needs it, not at CLI start-up
    from sparkpick.config import Home, Settings

HOME_ENV = "SPARKPICK_HOME"
TRACKING_ENV = "MLFLOW_TRACKING_URI"
PREFECT_HOME_ENV = "PREFECT_HOME"
# The home's folder for Prefect's own state (the `serve` command's local server uses it too).
PREFECT_FOLDER = "prefect"


@dataclass(frozen=True)
class TokenSource:
    """Where the TikTok access token comes from: an environment variable, read when it is needed."""

    variable: str

    def read(self) -> str | None:
        return os.environ.get(self.variable)


@dataclass(frozen=True)
class Invocation:
    """What every command and flow receives: where to write, which settings, which MLflow store, the token.

    `settings` and `home` are built on first use (and then kept), so a command that needs neither starts fast.
    """

    home_dir: Path
    config_file: Path | None = None
    debug: bool = False
    # From MLFLOW_TRACKING_URI; the config's `mlflow.tracking_uri`, when set, wins.
    tracking_uri: str | None = None

    @cached_property
    def settings(self) -> Settings:
        from sparkpick.config import load_settings, with_overrides

        settings = load_settings(self.config_file)
        if self.tracking_uri and not settings.mlflow.tracking_uri:
            settings = with_overrides(settings, {"mlflow": {"tracking_uri": self.tracking_uri}})
        return settings

    @cached_property
    def home(self) -> Home:
        from sparkpick.config import Home

        return Home.at(self.home_dir).ensure()

    @cached_property
    def named_source(self) -> str | None:
        """`ingest.source` when the config overlay names it (explicit), else None (the home's own source,
        or the default for a new home, is used)."""
        from sparkpick.config import overlay_value

        value = overlay_value(self.config_file, "ingest", "source")
        return str(value) if value else None

    @property
    def token(self) -> TokenSource:
        return TokenSource(self.settings.tiktok.token_env)

    def access_token(self, source: str) -> str | None:
        """The TikTok access token when `source` is the TikTok API, else None (nothing is read)."""
        return self.token.read() if source.split(":", 1)[0] == "tiktok" else None

    def flow_parameters(self) -> dict[str, str | None]:
        """The parameters a Prefect flow needs to resolve the same invocation (no secret among them)."""
        return {"home_dir": str(self.home.root),
                "config_file": str(Path(self.config_file).resolve()) if self.config_file else None}


def resolve(home: Path | str | None = None, config_file: Path | str | None = None, debug: bool = False) -> Invocation:
    """The invocation for these options: the home is `home`, else $SPARKPICK_HOME, else the current folder."""
    home_dir = Path(home) if home else Path(os.environ.get(HOME_ENV) or Path.cwd())
    _keep_libraries_in(home_dir)
    return Invocation(
        home_dir=home_dir, config_file=Path(config_file) if config_file else None, debug=debug,
        tracking_uri=os.environ.get(TRACKING_ENV) or None,
    )


def child_environment(updates: Mapping[str, str] | None = None, drop: Collection[str] = ()) -> dict[str, str]:
    """The environment a child process starts with: this one's, less `drop`, plus `updates`."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(updates or {})
    return env


def export(name: str, value: str, *, keep_existing: bool = False) -> None:
    """Set a variable for the child processes this one starts (a library's own setting, never a secret)."""
    if keep_existing:
        os.environ.setdefault(name, value)
    else:
        os.environ[name] = value


def _keep_libraries_in(home_dir: Path) -> None:
    """Everything a run writes stays in the home. Prefect keeps its database (flow-run history, also of the
    temporary server a flow starts) under PREFECT_HOME, ~/.prefect by default, and matplotlib its font cache
    under ~/.cache: both point into the home before either is imported. An explicit setting wins; a user's
    Prefect profiles are still read."""
    from sparkpick.config import Home

    home = Home.at(home_dir.resolve())
    export(PREFECT_HOME_ENV, str(home.root / PREFECT_FOLDER), keep_existing=True)
    export("MPLCONFIGDIR", str(home.cache / "matplotlib"), keep_existing=True)
    profiles = Path.home() / ".prefect" / "profiles.toml"
    if profiles.is_file():
        export("PREFECT_PROFILES_PATH", str(profiles), keep_existing=True)
