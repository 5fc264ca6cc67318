"""The Prefect API a command talks to: the one the user configured, or a local server sparkpick starts on
127.0.0.1 and stops when it is done (for `sparkpick serve`, and a night run as a Prefect flow)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from flows.children import die_with_parent
from flows.invocation import PREFECT_FOLDER, child_environment, export, unexport
from sparkpick.config import Settings
from sparkpick.errors import SparkpickError
from sparkpick.home import Home

SERVER_HOST = "127.0.0.1"
API_URL_ENV = "PREFECT_API_URL"
_HEALTH_POLL_S = 0.5
_STOP_TIMEOUT_S = 20.0


def configured_api_url() -> str | None:
    """The Prefect API the user configured (environment or active profile), or None."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def free_port(preferred: int, host: str = SERVER_HOST) -> int:
    """`preferred` if nothing listens there (0: any), else a free port the OS picks."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise SparkpickError(f"No free port on {host} for the Prefect server.")


def wait_healthy(api_url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until the Prefect API answers its health check; fail early if the server process died."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SparkpickError(f"The Prefect server exited with status {process.returncode} while starting.")
        try:
            answer = httpx.get(f"{api_url.rstrip('/')}/health", timeout=2.0)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(_HEALTH_POLL_S)
    raise SparkpickError(f"The Prefect server at {api_url} was not healthy after {timeout_s:.0f} s ({last}).")


def _prefect_executable() -> list[str]:
    return [sys.executable, "-m", "prefect"]


@contextmanager
def local_prefect_server(
    prefect_home: Path, port: int, timeout_s: float, log_file: Path | None = None
) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 for the body; yield its API URL; stop it afterwards.

    Its database lives in `prefect_home` so flow-run history survives restarts.
    """
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = child_environment({"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                             "DO_NOT_TRACK": "1", "PREFECT_SERVER_API_HOST": SERVER_HOST,
                             "PREFECT_SERVER_API_PORT": str(port)}, drop=(API_URL_ENV,))
    with _server_process([*_prefect_executable(), "server", "start", "--host", SERVER_HOST, "--port", str(port)],
                         env, log_file or prefect_home / "server.log", port, timeout_s) as api_url:
        yield api_url


@contextmanager
def _server_process(command: list[str], env: dict[str, str], log_file: Path, port: int,
                    timeout_s: float) -> Iterator[str]:
    """Start a Prefect API server process, wait until it is healthy, yield its API URL, stop it afterwards.

    It runs in a session of its own (Ctrl-C in the terminal reaches the command, which stops it) and ends
    with this process however this one ends, a SIGKILL included (`flows/children.py`)."""
    out = open(log_file, "ab")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=die_with_parent())  # before exec: prctl only
    api_url = f"http://{SERVER_HOST}:{port}/api"
    try:
        wait_healthy(api_url, timeout_s, process)
        yield api_url
    finally:
        stop_process_group(process)
        out.close()


@contextmanager
def night_api(home: Home, settings: Settings) -> Iterator[str]:
    """The Prefect API a night outside `serve` runs its flow against: the configured one, or a temporary
    server of its own for the body (Prefect's own temporary server lives on after a killed night).

    The temporary server is Prefect's ephemeral one (no UI), its database under `<home>/prefect/`, started
    like Prefect starts it but as a child that ends with the night (`_server_process`)."""
    import prefect
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = configured_api_url()
    if url:
        yield url
        return
    prefect_home = home.root / PREFECT_FOLDER
    prefect_home.mkdir(parents=True, exist_ok=True)
    port = free_port(0)
    env = child_environment({"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                             "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                             "PREFECT__SERVER_FINAL": "1"}, drop=(API_URL_ENV,))
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
               "--factory", "prefect.server.api.server:create_app", "--host", SERVER_HOST, "--port", str(port),
               "--log-level", "error", "--lifespan", "on"]
    with _server_process(command, env, prefect_home / "night-server.log", port,
                         settings.nightly.server_start_timeout_s) as url:
        export(API_URL_ENV, url)  # the night's child processes (a Dask cluster's workers) use it too
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield url
        finally:
            unexport(API_URL_ENV)


def stop_process_group(process: subprocess.Popen[Any], timeout_s: float = _STOP_TIMEOUT_S) -> None:
    """SIGTERM the process and its children (its own session), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass
