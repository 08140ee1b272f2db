"""Apiframe's v2 API: models, client, errors, webhook signatures and a local sandbox."""

from bot.apiframe.client import ApiframeClient, Downloaded
from bot.apiframe.errors import (
    ApiframeError,
    AuthError,
    BadRequest,
    Conflict,
    InsufficientCredits,
    NetworkError,
    NotFound,
    RateLimited,
    ResultTooLarge,
    ServerError,
)
from bot.apiframe.models import FluxParams, GenerateRequest, Job, JobAccepted, JobStatus
from bot.apiframe.retry import RetryPolicy

__all__ = [
    "ApiframeClient",
    "ApiframeError",
    "AuthError",
    "BadRequest",
    "Conflict",
    "Downloaded",
    "FluxParams",
    "GenerateRequest",
    "InsufficientCredits",
    "Job",
    "JobAccepted",
    "JobStatus",
    "NetworkError",
    "NotFound",
    "RateLimited",
    "ResultTooLarge",
    "RetryPolicy",
    "ServerError",
]
