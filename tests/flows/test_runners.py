"""How a night runs a stage: retried with exponential back-off only when the failure can heal, said in the
log each time, and given up with the last error. (The Prefect runner is tested with the night's artifacts
in tests/flows/test_nightly.py.)"""

from __future__ import annotations

import itertools
import logging
import time

import pytest

from flows.runners import PlainRunner, describe_exc
from sparkpick.errors import InputError, TransientError


def test_plain_runner_backs_off_exponentially() -> None:
    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TimeoutError("again")
        return "done"

    assert PlainRunner(retries=3, delay_s=0.1)("flaky", flaky) == "done"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2


def test_each_retry_is_logged_and_the_last_error_is_raised(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def down(x: int) -> None:
        calls.append(x)
        raise TransientError(f"source unreachable ({len(calls)})")

    logger = logging.getLogger("tests.runners")
    with caplog.at_level(logging.WARNING, logger="tests.runners"), \
            pytest.raises(TransientError, match=r"source unreachable \(3\)"):
        PlainRunner(retries=2, delay_s=0, logger=logger)("ingest", down, 7)
    assert calls == [7, 7, 7]
    assert [r.getMessage() for r in caplog.records] == [
        "ingest failed (source unreachable (1)); retry 1/2 in 0 s",
        "ingest failed (source unreachable (2)); retry 2/2 in 0 s",
    ]


@pytest.mark.parametrize("error", [InputError("posts.csv is missing"), ValueError("a bug"), KeyError("x")])
def test_what_cannot_heal_is_tried_once(error: Exception) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        PlainRunner(retries=5, delay_s=0)("score", broken)
    assert calls == [1]


@pytest.mark.parametrize(("error", "line"), [
    (InputError("posts.csv is missing"), "posts.csv is missing"),
    (ConnectionError("reset by peer"), "ConnectionError: reset by peer"),
    (TimeoutError(), "TimeoutError: TimeoutError"),
])
def test_a_failure_reads_as_one_line(error: Exception, line: str) -> None:
    assert describe_exc(error) == line
