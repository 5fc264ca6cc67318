"""No production module is longer than 450 lines (issue 19), except the settings schema: a longer file holds
several ideas and is split along its seams."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sparkpick", "features", "models", "flows")
MAX_LINES = 450
# The settings schema: one typed class per section of configs/default.yaml, read as one.
EXEMPT = {"sparkpick/config.py"}


def too_long(limit: int = MAX_LINES) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit and name not in EXEMPT:
                found.append(f"{name}: {lines} lines")
    return found


def test_no_production_module_is_longer_than_the_limit():
    assert not too_long(), too_long()


def test_the_check_finds_a_long_module():
    # the same walk with a limit every package's longest module passes: it must be reported
    assert too_long(limit=10)
