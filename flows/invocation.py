"""The invocation: everything a run takes from outside the code (options and the environment), resolved once.

The CLI (`flows/cli.py`) resolves it from its options; a Prefect flow that a deployment starts resolves it
from its parameters, in the process that serves it. Either way this module is the one place that reads the
environment: `SPARKPICK_HOME` (the home when none is given), `MLFLOW_TRACKING_URI` (the MLflow store when
the config leaves `mlflow.tracking_uri` empty, for every command and flow alike) and the TikTok token
(read from the variable `tiktok.token_env` names, only when a source needs it, and never stored).
Everything below receives an `Invocation`, its settings and home, or the token itself.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config stack is imported when a command needs it, not at CLI start-up
    import pandas as pd

    from sparkpick.config import Settings
    from sparkpick.home import Home

HOME_ENV = "SPARKPICK_HOME"
_NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                 "DO_NOT_TRACK": "1"}
TRACKING_ENV = "MLFLOW_TRACKING_URI"
PREFECT_HOME_ENV = "PREFECT_HOME"
# The home's folder for Prefect's own state (the `serve` command's local server uses it too).
PREFECT_FOLDER = "prefect"
# The earliest time a time option (`--as-of`, `--until`) may name: TikTok's launch (as Douyin's sister app,
# September 2016). No post, boost or night of sparkpick's can be older; an older time is a typo.
EARLIEST_TIME = "2016-09-01T00:00:00"
# How far past now a time option may reach: a day covers a clock or time zone slip; further is a typo (a
# night dated 2062 would be the newest report for decades).
MAX_AHEAD_HOURS = 24


def time_option(value: str, option: str, now: pd.Timestamp) -> pd.Timestamp:
    """A time option's text as a naive UTC timestamp, the one parser for every command and flow.

    Only an ISO 8601 date or time (UTC unless it has an offset) between `EARLIEST_TIME` and
    `MAX_AHEAD_HOURS` after `now` (the caller's clock: read where the command starts, never here) is a time;
    "NaT", "nan", "-1", "now", 1600-01-01 or 9999-12-31 raise an `InputError` that names the option.
    """
    from datetime import datetime

    import pandas as pd

    from sparkpick.contract import as_utc
    from sparkpick.errors import InputError

    text = str(value).strip()
    example = "e.g. 2026-10-01 or 2026-10-01T06:00Z"
    try:
        # Python's ISO 8601 reader: no "now", "NaT", "nan" or bare numbers, which pandas would take.
        moment = as_utc(pd.Timestamp(datetime.fromisoformat(text)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{option} {text!r} is not a date or time in ISO 8601 ({example}).") from exc
    earliest, latest = as_utc(EARLIEST_TIME), as_utc(now) + pd.Timedelta(hours=MAX_AHEAD_HOURS)
    if moment < earliest:
        raise InputError(f"{option} {text!r} is before {earliest:%Y-%m-%d}, TikTok's launch: no data can be that "
                         f"old; check the year ({example}).")
    if moment > latest:
        raise InputError(f"{option} {text!r} is more than {MAX_AHEAD_HOURS} hours after now ({as_utc(now)} UTC): "
                         f"a time in the future is a typo; check the year ({example}).")
    return moment


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
    # The command's temporary files (tempfile's, its child processes' TMPDIR) in the home's scratch, from
    # the first use of `home` to the process's end (the CLI; a flow run in a served process inherits it).
    temporary_in_home: bool = False

    @cached_property
    def settings(self) -> Settings:
        from sparkpick.config import load_settings, with_overrides

        settings = load_settings(self.config_file)
        if self.tracking_uri and not settings.mlflow.tracking_uri:
            settings = with_overrides(settings, {"mlflow": {"tracking_uri": self.tracking_uri}})
        return settings

    @cached_property
    def home(self) -> Home:
        from sparkpick.home import Home

        home = Home.at(self.home_dir).ensure()
        if self.temporary_in_home:
            temporary_files_in(home)
        return home

    @cached_property
    def named_source(self) -> str | None:
        """`ingest.source` when the config overlay names it (explicit), else None (the home's own source,
        or the default for a new home, is used)."""
        from sparkpick.config import overlay_value

        value = overlay_value(self.config_file, "ingest", "source")
        return str(value) if value else None

    @cached_property
    def now(self) -> pd.Timestamp:
        """The wall clock (naive UTC, to the second), read once per command or flow run and handed down."""
        from sparkpick.clock import utc_now

        return utc_now()

    def time(self, value: str | None, option: str) -> pd.Timestamp | None:
        """A time option checked by `time_option` against this invocation's clock; None when not given."""
        return None if value is None else time_option(value, option, self.now)

    def as_of(self, value: str | None, settings: Settings, option: str = "--as-of") -> pd.Timestamp:
        """The as-of time: the option checked (`time_option`), else now (the demo world: its end)."""
        from flows.nightly import default_as_of

        given = self.time(value, option)
        return given if given is not None else default_as_of(settings, self.now)

    @property
    def token(self) -> TokenSource:
        return TokenSource(self.settings.tiktok.token_env)

    @property
    def operator(self) -> str:
        """Who runs this command, as the actions log names a person: `person:<login name>`."""
        import getpass

        try:
            return f"person:{getpass.getuser()}"
        except (KeyError, OSError):
            return "person:unknown"

    def access_token(self, source: str) -> str | None:
        """The TikTok access token when `source` needs it (the TikTok API), else None (nothing is read)."""
        from sparkpick.sources.registry import find_source

        known = find_source(source)
        return self.token.read() if known is not None and known.needs_token else None

    def flow_parameters(self) -> dict[str, str | None]:
        """The parameters a Prefect flow needs to resolve the same invocation (no secret among them)."""
        return {"home_dir": str(self.home.root),
                "config_file": str(Path(self.config_file).resolve()) if self.config_file else None}


def resolve(home: Path | str | None = None, config_file: Path | str | None = None, debug: bool = False,
            temporary_in_home: bool = False) -> Invocation:
    """The invocation for these options: the home is `home`, else $SPARKPICK_HOME, else the current folder.
    `temporary_in_home` (the CLI): this process's temporary files go to the home's scratch."""
    home_dir = Path(home) if home else Path(os.environ.get(HOME_ENV) or Path.cwd())
    _keep_libraries_in(home_dir)
    return Invocation(
        home_dir=home_dir, config_file=Path(config_file) if config_file else None, debug=debug,
        tracking_uri=os.environ.get(TRACKING_ENV) or None, temporary_in_home=temporary_in_home,
    )


_process_scratch: Path | None = None
# The longest folder an AF_UNIX socket named `listener-XXXXXXXX` in it may have (107 bytes in all).
_MAX_SOCKET_FOLDER = 88


def temporary_files_in(home: Home) -> Path:
    """Point this process's temporary files (`tempfile`'s default folder) and its children's (TMPDIR) at a
    `run-*` folder of the home's scratch, removed when the process exits; a killed process's folder is swept
    by the next command (`sparkpick/scratch.py`). So what libraries put in the system's temporary folder
    (multiprocessing's `pymp-*`, Prefect's `runner_storage`, MLflow's model downloads) stays in the home and
    goes. Once per process: later calls return the same folder."""
    global _process_scratch
    if _process_scratch is None:
        from multiprocessing import process
        from multiprocessing.util import Finalize

        from sparkpick.scratch import run_scratch

        stack = contextlib.ExitStack()
        folder = stack.enter_context(run_scratch(home.scratch))
        # Removed after multiprocessing's own exit work (its finalizers run at exit by priority, its
        # temporary folder's at -100), so that no socket of its forkserver is pulled from under it.
        Finalize(None, stack.close, exitpriority=-200)
        # multiprocessing's sockets (the forkserver's listener) go straight into the folder; a socket's
        # path must fit in 107 bytes, so a home deep in the file system leaves multiprocessing its own
        # `pymp-*` folder in the system's temporary folder (removed at exit; not after a kill).
        if len(str(folder)) <= _MAX_SOCKET_FOLDER:
            process.current_process()._config["tempdir"] = str(folder)  # type: ignore[attr-defined]
        else:
            from multiprocessing.util import get_temp_dir

            get_temp_dir()
        tempfile.tempdir = str(folder)
        export("TMPDIR", str(folder))
        _process_scratch = folder
    return _process_scratch


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


def unexport(name: str) -> None:
    """Take back a variable `export` set, for the child processes started from now on."""
    os.environ.pop(name, None)


def _keep_libraries_in(home_dir: Path) -> None:
    """Everything a run writes stays in the home. Prefect keeps its database (flow-run history, also of the
    temporary server a flow starts) under PREFECT_HOME, ~/.prefect by default, and matplotlib its font cache
    under ~/.cache: both point into the home before either is imported. An explicit setting wins; a user's
    Prefect profiles are still read."""
    from sparkpick.home import Home

    home = Home.at(home_dir.resolve())
    export(PREFECT_HOME_ENV, str(home.root / PREFECT_FOLDER), keep_existing=True)
    export("MPLCONFIGDIR", str(home.cache / "matplotlib"), keep_existing=True)
    # A brand's data tool sends nothing unless asked: MLflow's telemetry (which also writes an id under
    # ~/.config/mlflow/), Prefect's server analytics, and every library honouring DO_NOT_TRACK stay off,
    # unless the user set them.
    for name, value in _NO_TELEMETRY.items():
        export(name, value, keep_existing=True)
    profiles = Path.home() / ".prefect" / "profiles.toml"
    if profiles.is_file():
        export("PREFECT_PROFILES_PATH", str(profiles), keep_existing=True)
