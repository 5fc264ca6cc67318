"""Shared fixtures. The environment is set here, once, before any test imports MLflow or Prefect."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from multiprocessing import process
from pathlib import Path

import pytest

# Offline machine: no telemetry, no analytics, quiet Prefect.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sparkpick.config import Settings, load_settings
from sparkpick.home import Home


@pytest.fixture(autouse=True)
def _temporary_folder_restored() -> Iterator[None]:
    """A command run in-process (typer's CliRunner) points this process's temporary files at its home's
    scratch for the rest of the process, as a real command must; the test's home goes with the test, so put
    the process's temporary folder back for the next one."""
    invocation = sys.modules.get("flows.invocation")
    before = (tempfile.tempdir, os.environ.get("TMPDIR"), process.current_process()._config.get("tempdir"))
    yield
    tempdir, tmpdir_env, mp_tempdir = before
    tempfile.tempdir = tempdir
    if tmpdir_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = tmpdir_env
    config = process.current_process()._config
    if mp_tempdir is None:
        config.pop("tempdir", None)
    else:
        config["tempdir"] = mp_tempdir
    invocation = invocation or sys.modules.get("flows.invocation")
    if invocation is not None:
        invocation._process_scratch = None


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A fresh, empty home folder for one test."""
    return Home.at(tmp_path / "home").ensure()


@pytest.fixture(scope="session")
def prefect_harness() -> object:
    """One temporary Prefect API for the whole test run (starting one takes 10-14 s); request it in tests
    that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """The tiny demo world (six contract CSVs, truth.csv, videos/*.mp4), built once per test session.

    Read it, don't write into it: other tests share the folder.
    """
    from sparkpick.sources.demo import build_world

    out = tmp_path_factory.mktemp("tiny_world")
    build_world(out, settings, size="tiny", seed=settings.world.seed, workers=2)
    return out
