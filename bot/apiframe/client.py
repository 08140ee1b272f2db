"""The Apiframe v2 client: one class, one aiohttp session, typed answers, mapped errors."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import aiohttp
from pydantic import ValidationError
from yarl import URL

from bot import __version__
from bot.apiframe import errors
from bot.apiframe.models import CatalogEntry, Job, JobAccepted, JobPage, Submission
from bot.apiframe.retry import RetryPolicy, call_with_retry

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"flux-bot/{__version__} (+aiohttp/{aiohttp.__version__})"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5


class CallCounter(Protocol):
    """Hears of every request and failed attempt (the metrics); labels are operation names."""

    def apiframe_request(self, operation: str, status: int | None) -> None: ...

    def apiframe_error(self, operation: str, error: Exception, *, retrying: bool) -> None: ...


class _NotCounted:
    def apiframe_request(self, operation: str, status: int | None) -> None:
        return None

    def apiframe_error(self, operation: str, error: Exception, *, retrying: bool) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Downloaded:
    data: bytes
    content_type: str | None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_text(body: Any, default: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"][:300]
    return default


def error_from_response(status: int, body: Any, headers: Any) -> errors.ApiframeError:
    """Map an unsuccessful answer to the exception tree, with plain messages."""
    request_id = headers.get("x-request-id")
    kw: dict[str, Any] = {"status": status, "request_id": request_id}
    if status == 400:
        details: dict[str, list[str]] = {}
        raw = body.get("details") if isinstance(body, dict) else None
        if isinstance(raw, dict):
            for path, messages in raw.items():
                if isinstance(messages, list):
                    details[str(path)] = [str(m) for m in messages]
                else:
                    details[str(path)] = [str(messages)]
        summary = "; ".join(f"{p}: {', '.join(m)}" for p, m in details.items())
        text = _error_text(body, "Invalid request")
        return errors.BadRequest(f"{text}: {summary}" if summary else text, details, **kw)
    if status == 401:
        return errors.AuthError("The Apiframe API key is missing or invalid", **kw)
    if status == 403:
        return errors.AuthError("The Apiframe API key is inactive or lacks permission", **kw)
    if status == 402:
        required = body.get("creditsRequired") if isinstance(body, dict) else None
        available = body.get("creditsAvailable") if isinstance(body, dict) else None
        message = "The Apiframe account has insufficient credits"
        if required is not None:
            message += f" (needs {required}, has {available})"
        return errors.InsufficientCredits(message, required, available, **kw)
    if status in (404, 410):
        return errors.NotFound(_error_text(body, "Not found"), **kw)
    if status == 409:
        return errors.Conflict(
            "Apiframe refused a reused idempotency key with a different request", **kw
        )
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return errors.RateLimited("Apiframe rate limit reached", retry_after, **kw)
    if status >= 500:
        return errors.ServerError(f"Apiframe answered {status}", **kw)
    # Any other answer (a redirect, 413, 422, ...) will not change if the request is repeated.
    return errors.ApiframeError(f"Apiframe answered an unexpected {status}", **kw)


class ApiframeClient:
    """Talks to Apiframe's v2 API. The API key is sent only to the API's own origin."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.apiframe.ai",
        *,
        timeout: float = 30.0,
        max_download_bytes: int = 50 * 2**20,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        counter: CallCounter | None = None,
    ) -> None:
        self.__api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._origin = URL(self.base_url).origin()
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(10.0, timeout))
        # A 4 MP PNG can take longer than `timeout` on a slow link: bound each read instead.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(10.0, timeout), sock_read=timeout
        )
        self.max_download_bytes = max_download_bytes
        self.retry = retry or RetryPolicy()
        self._session = session
        self._owns_session = session is None
        self.counter: CallCounter = counter or _NotCounted()

    def __repr__(self) -> str:
        return f"<ApiframeClient base_url={self.base_url!r}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"User-Agent": USER_AGENT}
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # --- plumbing ---------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.base_url}{path}"
        all_headers = {"X-API-Key": self.__api_key, "User-Agent": USER_AGENT, **(headers or {})}
        started = time.monotonic()
        try:
            # No redirects: aiohttp would carry X-API-Key to wherever they point.
            async with self.session.request(
                method,
                url,
                json=body,
                headers=all_headers,
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
                resp_headers = response.headers
        except TimeoutError as exc:
            self.counter.apiframe_request(operation, None)
            raise errors.NetworkError(f"Apiframe did not answer {method} {path} in time") from exc
        except aiohttp.ClientError as exc:
            self.counter.apiframe_request(operation, None)
            raise errors.NetworkError(
                f"Could not reach Apiframe ({type(exc).__name__}) for {method} {path}"
            ) from exc
        self.counter.apiframe_request(operation, status)
        log.debug(
            "%s %s -> %s in %.0f ms (request %s)",
            method,
            path,
            status,
            (time.monotonic() - started) * 1000,
            resp_headers.get("x-request-id"),
        )
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
            if 200 <= status < 300:
                raise errors.ServerError(
                    "Apiframe sent an unreadable answer",
                    status=status,
                    request_id=resp_headers.get("x-request-id"),
                ) from None
        if not 200 <= status < 300:
            raise error_from_response(status, data, resp_headers)
        return data

    # --- operations -------------------------------------------------------------------

    async def submit(self, request: Submission, *, idempotency_key: str) -> JobAccepted:
        """Start a paid job (a generation, an upscale, an outpaint) on its route. Retried only
        under the same idempotency key."""
        if not idempotency_key or len(idempotency_key) > 255:
            raise ValueError("an idempotency key of 1-255 characters is required")
        body = request.to_wire()

        async def op() -> JobAccepted:
            data = await self._request(
                "POST",
                request.path,
                operation="submit",
                body=body,
                headers={"Idempotency-Key": idempotency_key},
            )
            return _parse(JobAccepted, data)

        return await self._retrying(op, "submit")

    async def get_job(self, job_id: str) -> Job:
        """The job's current state."""

        async def op() -> Job:
            data = await self._request("GET", f"/v2/jobs/{job_id}", operation="get_job")
            return _parse(Job, data)

        return await self._retrying(op, "get_job")

    async def list_jobs(self, *, limit: int = 100) -> JobPage:
        """The newest `limit` (1-100) of this key's jobs, in every state: one request that
        looks at many jobs at once."""

        async def op() -> JobPage:
            data = await self._request("GET", f"/v2/jobs?limit={limit}", operation="list_jobs")
            return _parse(JobPage, data)

        return await self._retrying(op, "list_jobs")

    async def me(self) -> dict[str, Any]:
        """Account details; a cheap way to check the key."""

        async def op() -> dict[str, Any]:
            data = await self._request("GET", "/v2/me", operation="me")
            return data if isinstance(data, dict) else {}

        return await self._retrying(op, "me")

    async def models(self, modality: str = "image") -> list[CatalogEntry]:
        """The public model catalogue with its cost ranges (entries that do not parse are
        left out: the schema is loose on purpose)."""

        async def op() -> list[CatalogEntry]:
            data = await self._request("GET", f"/v2/models?modality={modality}", operation="models")
            raw = data.get("models") if isinstance(data, dict) else None
            entries = []
            for item in raw if isinstance(raw, list) else []:
                try:
                    entries.append(CatalogEntry.model_validate(item))
                except ValidationError:
                    continue
            return entries

        return await self._retrying(op, "models")

    async def download(self, url: str, *, max_bytes: int | None = None) -> Downloaded:
        """Fetch a result, streamed, refusing anything over the size cap."""
        cap = max_bytes if max_bytes is not None else self.max_download_bytes
        target = URL(url)
        if target.scheme not in ("http", "https"):
            raise errors.NotFound("The result URL is not an http(s) URL")

        async def op() -> Downloaded:
            try:
                return await self._fetch(target, cap)
            except TimeoutError as exc:
                self.counter.apiframe_request("download", None)
                raise errors.NetworkError("The result download timed out") from exc
            except aiohttp.ClientError as exc:
                self.counter.apiframe_request("download", None)
                raise errors.NetworkError(
                    f"The result download failed ({type(exc).__name__})"
                ) from exc

        return await self._retrying(op, "download")

    async def _retrying(self, op: Callable[[], Awaitable[T]], operation: str) -> T:
        def counted(error: errors.ApiframeError, retrying: bool) -> None:
            self.counter.apiframe_error(operation, error, retrying=retrying)

        return await call_with_retry(op, self.retry, what=operation, on_error=counted)

    async def _fetch(self, url: URL, cap: int) -> Downloaded:
        """GET `url`, following redirects by hand so that the key goes only to the API's own
        origin (result URLs usually live on a CDN, and may redirect anywhere)."""
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"X-API-Key": self.__api_key} if url.origin() == self._origin else {}
            get = self.session.get(
                url, headers=headers, allow_redirects=False, timeout=self._download_timeout
            )
            async with get as response:
                self.counter.apiframe_request("download", response.status)
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    url = url.join(URL(location))
                    if url.scheme not in ("http", "https"):
                        raise errors.NotFound("The result URL redirects to a non-http(s) URL")
                    continue
                if response.status in (401, 403, 404, 410):
                    # A signed CDN link that has run out answers 403: gone, not a key problem.
                    raise errors.NotFound(
                        "The result has expired or was removed", status=response.status
                    )
                if response.status != 200:
                    raise error_from_response(response.status, None, response.headers)
                if response.content_length is not None and response.content_length > cap:
                    raise errors.ResultTooLarge(
                        f"The result is {response.content_length} bytes; the cap is {cap}"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise errors.ResultTooLarge(f"The result is over {cap} bytes")
                    chunks.append(chunk)
                return Downloaded(b"".join(chunks), response.content_type)
        raise errors.ApiframeError(f"The result URL redirected more than {MAX_REDIRECTS} times")


def _parse(model: Any, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.ServerError(
            f"Apiframe's answer did not match the expected {model.__name__} shape"
        ) from exc
