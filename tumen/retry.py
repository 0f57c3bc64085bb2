"""Waiting for a dependency at start-up: retry a probe with capped exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tumen.errors import TumenError

__all__ = ["wait_until_reachable"]

log = logging.getLogger(__name__)


def wait_until_reachable(
    probe: Callable[[float], None],
    *,
    what: str,
    timeout_s: float,
    retry_on: tuple[type[BaseException], ...],
    error: type[TumenError],
) -> None:
    """Call ``probe(remaining_s)`` until it returns; log each failure naming ``what``; raise
    ``error`` naming ``what`` once ``timeout_s`` is spent."""
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        try:
            probe(max(1.0, deadline - time.monotonic()))
            return
        except retry_on as exc:
            if time.monotonic() + delay > deadline:
                raise error(f"{what} unreachable: {type(exc).__name__}") from exc
            log.warning("%s unreachable retry_in_s=%.1f error=%s", what, delay, type(exc).__name__)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
