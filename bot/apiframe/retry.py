"""Retry policy for Apiframe calls: bounded attempts, full-jitter backoff, Retry-After honoured."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.apiframe.errors import ApiframeError, RateLimited

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a call that failed with a retryable error."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0  # a 429 asking for longer than this is given up on
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, error: ApiframeError) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if attempt >= self.max_attempts or not error.retryable:
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after + self.random() * self.base_delay
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.random() * ceiling


async def call_with_retry(
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    on_error: Callable[[ApiframeError, bool], None] | None = None,
) -> T:
    """Run `op`, retrying retryable Apiframe errors as the policy allows; `on_error` hears of
    each failed attempt and whether it will be retried."""
    attempt = 1
    while True:
        try:
            return await op()
        except ApiframeError as error:
            wait = policy.delay(attempt, error)
            if on_error is not None:
                on_error(error, wait is not None)
            if wait is None:
                raise
            log.warning(
                "%s failed (%s, status %s, request %s); retry %d/%d in %.2f s",
                what,
                type(error).__name__,
                error.status,
                error.request_id,
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            await policy.sleep(wait)
            attempt += 1
