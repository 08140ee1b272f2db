"""Why a job failed, in words for the member (in their language) and for the admins (in
English). Never raw upstream text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.apiframe import errors
from bot.i18n import Text, t


class FailureKind(StrEnum):
    MODERATION = "moderation"  # the provider's content policy blocked the prompt or the image
    PROVIDER = "provider"  # the model failed upstream; a retry may work
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    CREDITS = "credits"  # the bot's Apiframe account is out of credits
    AUTH = "auth"  # the bot's API key is wrong: an admin must fix the configuration
    INVALID = "invalid"  # Apiframe refused the request itself
    EXPIRED = "expired"  # the result was purged before we could download it
    DELIVERY = "delivery"  # Discord would not take the image
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    member_message: Text  # shown in Discord, rendered in the reader's language
    admin_detail: str  # for logs and the audit trail; may hold numbers, never secrets


_MODERATION = re.compile(r"moderat|content policy|nsfw|safety|flagged|denied|filter", re.I)

MEMBER_MESSAGES = {
    FailureKind.MODERATION: t(
        "This was blocked by the provider's content policy. Try rewording the prompt"
        " or using a different reference image. It was not counted."
    ),
    FailureKind.PROVIDER: t(
        "The image model ran into a problem on its side. Please try again in a moment;"
        " this attempt was not counted."
    ),
    FailureKind.CANCELLED: t("The job was cancelled before it finished. It was not counted."),
    FailureKind.TIMEOUT: t(
        "This is taking far longer than it should, so I've stopped waiting and it was not"
        " counted. If the image still arrives, I'll post it here."
    ),
    FailureKind.CREDITS: t(
        "The bot is out of image credits right now, so nothing was generated. The server"
        " admins have been told."
    ),
    FailureKind.AUTH: t(
        "Sorry, the bot is misconfigured and cannot generate images right now. The server"
        " admins have been told."
    ),
    FailureKind.INVALID: t(
        "The image service refused these options. Please adjust them and retry."
    ),
    FailureKind.EXPIRED: t("The finished image expired before I could fetch it. Please try again."),
    FailureKind.DELIVERY: t("I could not post the image here. Please check my permissions."),
    FailureKind.INTERNAL: t("Something went wrong on my side. Please try again."),
}


def _failure(kind: FailureKind, *, detail: str) -> Failure:
    return Failure(kind, MEMBER_MESSAGES[kind], admin_detail=detail)


_UPSTREAM_TIMEOUT = re.compile(r"timed? ?out|timeout|deadline", re.I)
_UPSTREAM_BUSY = re.compile(r"overload|capacity|busy|unavailable|rate.?limit", re.I)
# The reason in plain words, without the provider's own text (it may hold anything).
_PROVIDER_REASONS = (
    (
        _UPSTREAM_TIMEOUT,
        t(
            "The image model took too long on its side and gave up. Please try again in a"
            " moment; this attempt was not counted."
        ),
    ),
    (
        _UPSTREAM_BUSY,
        t(
            "The image model is overloaded right now. Please try again in a moment; this"
            " attempt was not counted."
        ),
    ),
)


def from_job_error(error: str | None) -> Failure:
    """Classify the `error` text of a FAILED job."""
    text = (error or "").strip()
    if _MODERATION.search(text):
        return _failure(FailureKind.MODERATION, detail=f"provider moderation: {text[:200]}")
    reason = text[:200] or "no reason given"  # i18n: not shown (admin detail)
    detail = f"provider failure: {reason}"  # i18n: not shown (admin detail)
    for pattern, message in _PROVIDER_REASONS:
        if pattern.search(text):
            return Failure(FailureKind.PROVIDER, message, admin_detail=detail)
    return _failure(FailureKind.PROVIDER, detail=detail)


def from_exception(exc: Exception) -> Failure:
    """Classify an error raised while submitting, polling or downloading."""
    if isinstance(exc, errors.InsufficientCredits):
        if exc.required is None or exc.available is None:
            return _failure(FailureKind.CREDITS, detail="Apiframe account out of credits")
        return Failure(
            FailureKind.CREDITS,
            t(
                "The bot is out of image credits: this needed {required} and its account has"
                " only {available} left, so nothing was made and nothing was counted. The"
                " server admins have been told.",
                required=exc.required,
                available=exc.available,
            ),
            admin_detail=(
                f"Apiframe account out of credits: needed {exc.required}, available {exc.available}"
            ),
        )
    if isinstance(exc, errors.AuthError):
        return _failure(FailureKind.AUTH, detail=f"Apiframe refused the API key: {exc.message}")
    if isinstance(exc, errors.BadRequest):
        fields = ", ".join(sorted(exc.details)) or "unknown fields"  # i18n: not shown (admins)
        return _failure(FailureKind.INVALID, detail=f"Apiframe rejected the request: {fields}")
    if isinstance(exc, errors.DownloadRefused):
        # A result on a private or loopback address: a misconfiguration or an attack, not
        # something a retry fixes. The operator finds the host in the log.
        return Failure(
            FailureKind.PROVIDER,
            t(
                "The image service sent the finished image from an address I don't fetch"
                " from, so I couldn't post it. It was not counted."
            ),
            admin_detail=f"result download refused: {exc.message}",
        )
    if isinstance(exc, errors.NotFound):
        return _failure(FailureKind.EXPIRED, detail=f"not found at Apiframe: {exc.message}")
    if isinstance(exc, errors.ApiframeError):
        return _failure(FailureKind.PROVIDER, detail=f"Apiframe error: {exc.message}")
    return _failure(FailureKind.INTERNAL, detail=f"unexpected {type(exc).__name__}")


def no_images() -> Failure:
    """A job Apiframe calls completed without a single image."""
    return from_job_error("result missing images")  # i18n: not shown (admin detail)


def cancelled() -> Failure:
    return _failure(FailureKind.CANCELLED, detail="Apiframe reported the job as cancelled")


def timed_out(seconds: float) -> Failure:
    return _failure(FailureKind.TIMEOUT, detail=f"no result after {seconds:.0f} s")
