"""Errors of the consumer stages."""

from __future__ import annotations

from tumen.errors import TumenError

__all__ = ["ConsumerError", "PoisonMessage", "RuleError"]


class ConsumerError(TumenError):
    """Root of the consumer stages' errors."""


class PoisonMessage(ConsumerError):
    """A message that can never be processed (bad bytes, bad schema, processing raises).

    It goes to the dead-letter topic; retrying it would only block the partition."""


class RuleError(ConsumerError):
    """An alert rule in the profile is invalid."""
