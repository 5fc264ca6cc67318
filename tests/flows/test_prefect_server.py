"""The Prefect API a command talks to: a preferred port or a free one, a server that must answer its
health check in time (and one that died says so at once), and a stopped server goes with its children.
A real `prefect server start` runs in tests/flows/test_approval.py and tests/e2e/test_nightly_e2e.py (slow)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows.prefect_server import SERVER_HOST, free_port, stop_process_group, wait_healthy
from sparkpick.errors import SparkpickError


@contextmanager
def _api(status: int) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 whose /api/health answers `status`; yields its API URL."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((SERVER_HOST, 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{SERVER_HOST}:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_the_preferred_port_when_free_else_another() -> None:
    port = free_port(0)
    assert free_port(port) == port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((SERVER_HOST, port))
        taken.listen()
        other = free_port(port)
    assert other != port and other > 0


def test_a_healthy_api_is_ready_and_an_unhealthy_one_is_named_after_the_timeout() -> None:
    with _api(200) as url:
        wait_healthy(url, timeout_s=10)
    with _api(503) as url, pytest.raises(SparkpickError, match=rf"{url} was not healthy after 1 s \(HTTP 503\)"):
        wait_healthy(url, timeout_s=1)


def test_a_server_that_dies_while_starting_says_so_at_once() -> None:
    died = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(4)"])
    died.wait(30)
    started = time.monotonic()
    with pytest.raises(SparkpickError, match="exited with status 4 while starting"):
        wait_healthy(f"http://{SERVER_HOST}:{free_port(0)}/api", timeout_s=60, process=died)
    assert time.monotonic() - started < 10


def test_stopping_a_server_stops_its_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    server = ("import subprocess, sys, time\n"
              "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
              "open(sys.argv[1], 'w').write(str(worker.pid))\ntime.sleep(120)\n")
    process = subprocess.Popen([sys.executable, "-c", server, str(pid_file)], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    stop_process_group(process, timeout_s=10)
    assert process.returncode is not None
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and "Z" not in _state(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{worker}").exists() or "Z" in _state(worker), "the server's worker outlived it"
    stop_process_group(process)  # stopping a stopped server is nothing


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"
