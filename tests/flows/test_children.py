"""Child processes end with the command that started them: after a SIGKILL of the command (the kernel
signals the child), and a kept process group goes whole, its own children included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.children import die_with_parent, kept_whole

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")


def _gone(pid: int, within_s: float = 20.0) -> bool:
    """Whether process `pid` has ended (exited, or a zombie no one reaped yet) within `within_s`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _read_pid(path: Path, within_s: float = 30.0) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


@linux_only
def test_a_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = ("import subprocess, sys, time\nfrom flows.children import die_with_parent\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
              " preexec_fn=die_with_parent())\n"
              "open(sys.argv[1], 'w').write(str(child.pid))\ntime.sleep(120)\n")
    process = subprocess.Popen([sys.executable, "-c", parent, str(pid_file)], env=ENV, cwd=REPO)
    child = _read_pid(pid_file)
    assert not _gone(child, within_s=0.5)
    process.send_signal(signal.SIGKILL)  # no cleanup of its own
    process.wait(30)
    assert _gone(child), f"child {child} outlived its killed parent"


def test_elsewhere_there_is_nothing_to_arm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert die_with_parent() is None


def test_a_kept_group_goes_whole_when_its_keeper_is_stopped(tmp_path: Path) -> None:
    # A "server" that leaves a worker of its own behind when it alone is stopped.
    pid_file = tmp_path / "worker.pid"
    server = ("import subprocess, sys, time\n"
              "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
              "open(sys.argv[1], 'w').write(str(worker.pid))\ntime.sleep(120)\n")
    keeper = subprocess.Popen(kept_whole([sys.executable, "-c", server, str(pid_file)], grace_s=2),
                              start_new_session=True, preexec_fn=die_with_parent(), env=ENV, cwd=REPO)
    worker = _read_pid(pid_file)
    keeper.terminate()
    keeper.wait(30)
    assert _gone(worker), f"the server's worker {worker} outlived the stopped group"


def test_a_kept_command_passes_its_exit_status_on() -> None:
    done = subprocess.run(kept_whole([sys.executable, "-c", "import sys; sys.exit(3)"], grace_s=1),
                          start_new_session=True, timeout=60, check=False)
    assert done.returncode == 3
