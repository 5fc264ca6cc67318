"""How a night runs each stage: directly with exponential back-off (`PlainRunner`) or as a Prefect task
with the same retries (`PrefectRunner`); only what can heal is retried."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sparkpick.errors import SparkpickError, is_transient

T = TypeVar("T")
log = logging.getLogger("sparkpick.nightly")


class StepRunner(Protocol):
    """Runs one stage function with the night's retry policy."""

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


def describe_exc(exc: BaseException) -> str:
    """A failure in one line: a sparkpick error's own message, else the exception's type and text."""
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, SparkpickError) else f"{type(exc).__name__}: {text}"


def is_retryable(exc: BaseException) -> bool:
    """Only what can heal is retried (network, throttling, locks); bad input, a damaged file or a bug
    fails the same way every time (see `sparkpick.errors.is_transient`)."""
    return is_transient(exc)


class PlainRunner:
    """Runs a stage directly, retrying with exponential back-off (no Prefect needed)."""

    def __init__(
        self, retries: int, delay_s: float, logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = log
    ):
        self.retries, self.delay_s, self.logger = retries, delay_s, logger

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if attempt >= self.retries or not is_retryable(exc):
                    raise
                wait = self.delay_s * 2**attempt
                attempt += 1
                self.logger.warning("%s failed (%s); retry %d/%d in %.0f s",
                                    name, describe_exc(exc), attempt, self.retries, wait)
                time.sleep(wait)


class PrefectRunner:
    """Runs each stage as a Prefect task with the configured retries and exponential back-off."""

    def __init__(self, retries: int, delay_s: float) -> None:
        self.retries, self.delay_s = retries, delay_s

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def retry_unless_bad_input(_task: Any, _run: Any, state: Any) -> bool:
            try:
                state.result()
            except Exception as exc:
                return is_retryable(exc)
            return True

        from prefect import task
        from prefect.cache_policies import NO_CACHE
        from prefect.tasks import exponential_backoff

        stage = task(  # type: ignore[call-overload]  # the back-off's type matches no single overload
            fn, name=name, retries=self.retries, cache_policy=NO_CACHE, persist_result=False,
            retry_delay_seconds=exponential_backoff(backoff_factor=self.delay_s) if self.delay_s else 0,
            retry_condition_fn=retry_unless_bad_input,
        )
        return stage(*args, **kwargs)
