"""Child processes end with the command that started them, however it ends (Ctrl-C, SIGTERM, SIGKILL).

A server a command starts (Prefect's, MLflow's UI) runs in a process of its own. SIGKILL gives the command
no chance to stop it, so the child asks the kernel to signal it when its parent dies (Linux's
`prctl(PR_SET_PDEATHSIG)`), set between fork and exec by `die_with_parent`. It survives the exec, so the
server itself (uvicorn) gets SIGTERM and shuts down. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` that has the child receive `sig` when this process dies (the
    thread that starts it must live as long as the process: start children from the main thread), or
    None where the kernel cannot do that."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def arm() -> None:  # runs in the child, between fork and exec
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return arm


# A process group's keeper: runs the command as its child in the keeper's own session, and when the keeper is
# told to stop (SIGTERM or SIGINT: from `die_with_parent`, or the command's own Ctrl-C) or the command ends,
# stops the whole group (SIGTERM, then SIGKILL after the grace period): a server that leaves workers of its
# own behind when it is stopped (MLflow's UI and its job runners) goes whole.
_KEEPER = """
import os, signal, subprocess, sys, time
grace, command = float(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen(command)
def stop(signum=None, frame=None):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if signum is not None:
        time.sleep(min(grace, 2.0))
        os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
code = child.wait()
stop()
sys.exit(code)
"""


def kept_whole(command: list[str], grace_s: float) -> list[str]:
    """`command` run under a keeper that stops its whole process group with it (start it with
    `start_new_session=True` and `preexec_fn=die_with_parent()`)."""
    return [sys.executable, "-c", _KEEPER, f"{grace_s:g}", *command]
