"""SIGTERM stops a command the way Ctrl-C does: cleanup runs, and the exit status says which signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flows.interrupt import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, exit_code, sigterm_as_interrupt

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_unwinds_like_ctrl_c_and_the_old_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(Terminated) as caught, sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            cleaned.append(True)
    assert cleaned == [True]
    assert isinstance(caught.value, KeyboardInterrupt)
    assert exit_code(caught.value) == EXIT_TERMINATED == 143
    assert exit_code(KeyboardInterrupt()) == EXIT_INTERRUPTED == 130
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_it_changes_nothing() -> None:
    seen = []

    def worker() -> None:
        with sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == [before]


def test_a_process_stopped_with_sigterm_runs_its_finally_and_exits_143(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = ("import sys, time\nfrom pathlib import Path\n"
              "from flows.interrupt import exit_code, sigterm_as_interrupt\n"
              "try:\n"
              "    with sigterm_as_interrupt():\n"
              "        try:\n"
              "            print('ready', flush=True); time.sleep(60)\n"
              "        finally:\n"
              "            Path(sys.argv[1]).write_text('yes')\n"
              "except KeyboardInterrupt as exc:\n"
              "    sys.exit(exit_code(exc))\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(marker)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    process.terminate()
    assert process.wait(30) == EXIT_TERMINATED
    assert marker.read_text() == "yes"
