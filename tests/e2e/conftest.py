"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparkpick.config import Settings
from tests.e2e.worlds import shared_world


@pytest.fixture(scope="session")
def e2e_world(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """The trainable `e2e` demo world, built once per test run: under pytest-xdist in the run's folder that
    all workers share (each worker's own is a folder inside it). Read it or copy it, never write into it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return shared_world(root, settings)
