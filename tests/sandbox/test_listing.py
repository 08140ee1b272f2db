"""GET /v2/jobs: the caller's jobs newest first, in pages, as Apiframe's schema has it."""

from __future__ import annotations

import pytest

from bot.apiframe.sandbox import Fault
from tests.sandbox.conftest import OTHER_KEY, Api
from tests.sandbox.test_models import schema


async def test_lists_own_jobs_newest_first_in_every_state(api: Api) -> None:
    """Every state is listed with its progress and result, in JobList's shape; another
    key's jobs are not."""
    done = await api.submit_ok()
    api.sandbox.advance(60)
    running = await api.submit_ok()
    api.sandbox.advance(2.0)
    await api.call("POST", "/v2/images/generate", key=OTHER_KEY, json_body={"prompt": "x"})
    answer = await api.call("GET", "/v2/jobs?limit=100")
    assert answer.status == 200
    assert list(schema("JobList").iter_errors(answer.body)) == []
    jobs = answer.body["jobs"]
    assert [j["id"] for j in jobs] == [running, done]
    assert [j["status"] for j in jobs] == ["PROCESSING", "COMPLETED"]
    assert jobs[1]["result"]["images"]
    assert answer.body["hasMore"] is False
    assert answer.body["nextCursor"] is None
    assert api.sandbox.stats["lists"] == 1


async def test_pages_follow_the_cursor_to_the_end(api: Api) -> None:
    ids = [await api.submit_ok() for _ in range(5)]
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        answer = await api.call("GET", f"/v2/jobs?limit=2{cursor}")
        seen += [j["id"] for j in answer.body["jobs"]]
        if not answer.body["hasMore"]:
            break
        cursor = f"&cursor={answer.body['nextCursor']}"
    assert seen == list(reversed(ids))


async def test_filters_by_status_model_and_id(api: Api) -> None:
    first = await api.submit_ok()
    api.sandbox.advance(60)
    second = await api.submit_ok()
    completed = await api.call("GET", "/v2/jobs?status=COMPLETED&include_models=true")
    assert [j["id"] for j in completed.body["jobs"]] == [first]
    assert completed.body["models"] == ["flux-2-max"]
    found = await api.call("GET", f"/v2/jobs?search={second}")
    assert [j["id"] for j in found.body["jobs"]] == [second]
    none = await api.call("GET", "/v2/jobs?model=clarity-upscale")
    assert none.body["jobs"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=DONE", "status"),
        ("scope=everyone", "scope"),
        ("search=not-a-uuid", "search"),
        ("cursor=%%%", "cursor"),
        ("include_models=yes", "include_models"),
        ("colour=blue", "colour"),
    ],
)
async def test_bad_query_parameters_are_a_validation_error(
    api: Api, query: str, field: str
) -> None:
    answer = await api.call("GET", f"/v2/jobs?{query}")
    assert answer.status == 400
    assert list(schema("ValidationError").iter_errors(answer.body)) == []
    assert field in answer.body["details"]


async def test_the_list_needs_a_key_and_takes_faults(api: Api) -> None:
    assert (await api.call("GET", "/v2/jobs", key=None)).status == 401
    api.sandbox.add_fault(Fault(route="jobs", status=503, count=1))
    assert (await api.call("GET", "/v2/jobs")).status == 503
    assert (await api.call("GET", "/v2/jobs")).status == 200
