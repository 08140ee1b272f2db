"""`GET /v2/jobs`: the caller's jobs, newest first, a page at a time.

Cursor pagination keyed on (createdAt desc, id desc), as Apiframe's schema describes it; the
cursor is opaque to clients. Unknown or malformed query parameters are a ValidationError.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from aiohttp import web

from bot.apiframe.sandbox.routes import _apply_fault, _auth, _base, invalid, json_reply
from bot.apiframe.sandbox.state import SANDBOX_KEY, SandboxJob

STATUSES = {"QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"}
PARAMS = {"status", "model", "limit", "cursor", "scope", "search", "include_models"}


def _order(job: SandboxJob) -> tuple[str, str]:
    return (job.created_at.isoformat(), job.id)


def _cursor(job: SandboxJob) -> str:
    created, job_id = _order(job)
    return base64.urlsafe_b64encode(f"{created}|{job_id}".encode()).decode()


def _after(cursor: str) -> tuple[str, str] | None:
    try:
        created, _, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (created, job_id) if created and job_id else None


def _query(query: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The parameters, checked against the schema; problems by parameter."""
    problems: dict[str, list[str]] = {}
    for name in set(query) - PARAMS:
        problems[name] = ["Unknown query parameter"]
    out: dict[str, Any] = {"limit": 20, "scope": "user", "include_models": False}
    if (status := query.get("status")) is not None:
        if status in STATUSES:
            out["status"] = status
        else:
            problems["status"] = [f"Must be one of {', '.join(sorted(STATUSES))}"]
    if (limit := query.get("limit")) is not None:
        if limit.isdigit() and 1 <= int(limit) <= 100:
            out["limit"] = int(limit)
        else:
            problems["limit"] = ["Must be an integer from 1 to 100"]
    if (scope := query.get("scope")) is not None:
        if scope in ("user", "team"):
            out["scope"] = scope
        else:
            problems["scope"] = ["Must be user or team"]
    if (search := query.get("search")) is not None:
        try:
            out["search"] = str(uuid.UUID(search))
        except ValueError:
            problems["search"] = ["Must be a UUID"]
    if (include := query.get("include_models")) is not None:
        if include in ("true", "false"):
            out["include_models"] = include == "true"
        else:
            problems["include_models"] = ["Must be true or false"]
    if (cursor := query.get("cursor")) is not None:
        if (after := _after(cursor)) is None:
            problems["cursor"] = ["Invalid cursor"]
        else:
            out["after"] = after
    if (model := query.get("model")) is not None:
        out["model"] = model
    return out, problems


async def list_jobs(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if (faulty := await _apply_fault(request, sandbox, "jobs")) is not None:
        return faulty
    key, refusal = _auth(request, sandbox)
    if refusal is not None:
        return refusal
    sandbox.stats["lists"] += 1
    params, problems = _query(request.query)
    if problems:
        return invalid(problems, "Invalid query parameters")
    base = _base(request, sandbox)
    chosen = []
    for job in sandbox.jobs.values():
        sandbox.settle(job)
        if params["scope"] == "user" and job.key != key:
            continue
        if "status" in params and job.status != params["status"]:
            continue
        if "model" in params and job.model != params["model"]:
            continue
        if "search" in params and job.id != params["search"]:
            continue
        chosen.append(job)
    chosen.sort(key=_order, reverse=True)
    if "after" in params:
        chosen = [job for job in chosen if _order(job) < params["after"]]
    page = chosen[: params["limit"]]
    more = len(chosen) > len(page)
    body: dict[str, Any] = {
        "jobs": [_item(sandbox.job_json(job, base)) for job in page],
        "nextCursor": _cursor(page[-1]) if more and page else None,
        "hasMore": more,
    }
    if params["include_models"]:
        body["models"] = sorted({job.model for job in chosen})
    return json_reply(body)


def _item(job: dict[str, Any]) -> dict[str, Any]:
    """A list entry: the job without its input (the schema's JobList items)."""
    return {name: value for name, value in job.items() if name != "input"}
