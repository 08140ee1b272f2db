"""The exception tree of the Apiframe client. Messages are plain sentences, safe to log."""

from __future__ import annotations


class ApiframeError(Exception):
    """Base class: something went wrong talking to Apiframe."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id


class BadRequest(ApiframeError):
    """400: the request failed validation; `details` maps a field path to its messages."""

    def __init__(self, message: str, details: dict[str, list[str]] | None = None, **kw):
        super().__init__(message, **kw)
        self.details = details or {}


class AuthError(ApiframeError):
    """401/403: the API key is missing, invalid or inactive."""


class InsufficientCredits(ApiframeError):
    """402: the Apiframe account lacks credits for this job."""

    def __init__(
        self, message: str, required: int | None = None, available: int | None = None, **kw
    ):
        super().__init__(message, **kw)
        self.required = required
        self.available = available


class NotFound(ApiframeError):
    """404: the job (or result) does not exist, or belongs to another key."""


class Conflict(ApiframeError):
    """409: an idempotency key was reused with a different body."""


class RateLimited(ApiframeError):
    """429: slow down; `retry_after` is in seconds when the API said so."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ApiframeError):
    """5xx or an unreadable answer from Apiframe."""

    retryable = True


class NetworkError(ApiframeError):
    """The connection failed or timed out before an answer came."""

    retryable = True


class ResultTooLarge(ApiframeError):
    """A result download was bigger than the configured cap."""


class DownloadRefused(ApiframeError):
    """A result URL (or a redirect) points at an address the bot does not fetch from:
    loopback, private, link-local, multicast and the like, unless allowed by the operator."""
