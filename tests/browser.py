"""Headless Chromium for the report tests: find (or install) the browser, load a page, dump its DOM, take
a screenshot. The flags keep Chromium off the network (this machine has none) and out of the user's
profile."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / "scripts" / "install-browser.sh"
ARTIFACTS = REPO / "test-artifacts"

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def find_chromium() -> str | None:
    """The Chromium binary, installing Debian's package with scripts/install-browser.sh if it is missing."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if INSTALL_SCRIPT.exists():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False, timeout=900)
    return shutil.which("chromium")


def require_chromium() -> str:
    """The browser, or a loud skip: the HTML report then went unchecked in a real browser."""
    browser = find_chromium()
    if browser is None:
        message = (
            "NO BROWSER: Chromium is not installed and scripts/install-browser.sh could not install it; "
            "the HTML report was NOT checked in a real browser."
        )
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    return browser


def _run(browser: str, args: list[str], timeout_s: float = 90.0) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="sp-chromium-") as profile:
        return subprocess.run(
            [browser, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )


def dump_dom(browser: str, url: str) -> tuple[str, str]:
    """The page's DOM after its scripts ran, and Chromium's log (console messages land there)."""
    done = _run(browser, ["--virtual-time-budget=3000", "--dump-dom", url])
    assert done.returncode == 0, f"chromium --dump-dom failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout, done.stderr


def screenshot(browser: str, url: str, out: Path, size: tuple[int, int] = (1440, 1400)) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    done = _run(browser, [f"--screenshot={out}", f"--window-size={size[0]},{size[1]}",
                          "--virtual-time-budget=3000", url])
    assert done.returncode == 0 and out.exists(), f"chromium --screenshot failed: {done.stderr[-2000:]}"
    return out


def console_errors(log: str) -> list[str]:
    """Console errors and uncaught exceptions from Chromium's log."""
    return [
        line for line in log.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line or ":ERROR:" in line)
    ]
