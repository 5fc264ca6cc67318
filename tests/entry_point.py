"""The `sparkpick` command as users start it: the installed console script, whose entry point is the launcher
(`sparkpick_launcher:main`, pyproject.toml), which puts the project's own `flows`, `models` and `features`
first on `sys.path`. Tests that start the CLI in a process start this, never `python -m flows.cli` or
`from flows.cli import main` (those skip the launcher, so they would pass where a user's command breaks).

The script imports the checkout the tests run from when PYTHONPATH names it (it is inherited from the test
run, or set by the test), else the editable install's."""

from __future__ import annotations

import sys
from pathlib import Path

SPARKPICK = str(Path(sys.executable).parent / "sparkpick")
