"""One root error for the project, split by how the service must react.

Fatal: will not change by retrying (bad config, a 4xx the NPO means): stop that
stream or fail that enrolment with the reason. Retriable: connection errors,
timeouts, 5xx, 429: back off and retry. Skippable: one record that cannot be
handled: dead-letter it and keep going.
"""

from __future__ import annotations


class NpoIntegrationError(Exception):
    """Root of every error this package raises on purpose."""


class FatalError(NpoIntegrationError):
    """Retrying will not help; surface the reason and stop this unit of work."""


class RetriableError(NpoIntegrationError):
    """A transient failure; the caller may retry after ``retry_after`` seconds if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SkippableError(NpoIntegrationError):
    """This one record cannot be processed; dead-letter it and continue the stream."""


class ConfigError(FatalError):
    """A setting or an NPO config is invalid; the message names the field."""


class SecretError(FatalError):
    """A secret could not be sealed or opened (wrong key, tampered token,
    plaintext where sealed is required)."""
