"""Webhooks: signed like Apiframe, filtered by webhookEvents, retried, and faulty on demand."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from bot.apiframe import webhooks
from bot.apiframe.sandbox import Outcome, WebhookFaults
from tests.sandbox.conftest import BODY, KEY, Api, Sink, eventually


def _hooked(sink: Sink, events: list[str] | None = None, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {**BODY, "webhookUrl": sink.url}
    if events is not None:
        body["webhookEvents"] = events
    if params:
        body["fluxParams"] = params
    return body


async def _settled(api: Api, job_id: str) -> dict[str, Any]:
    """The job once its webhook task has finished (webhookStatus no longer pending)."""
    job: dict[str, Any] = {}

    async def poll() -> None:
        nonlocal job
        while (job := await api.job(job_id))["webhookStatus"] == "pending":
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), 3)
    return job


async def test_completed_event_is_signed_and_shaped_like_apiframe(api: Api, sink: Sink) -> None:
    """By default only `completed` is sent, with the §5.3 body and a verifiable signature."""
    job_id = (await api.submit(_hooked(sink, resolution="1MP"))).body["jobId"]
    assert (await api.job(job_id))["webhookStatus"] == "pending"
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    job = await _settled(api, job_id)
    assert job["webhookStatus"] == "delivered"
    assert sink.events == ["completed"]
    delivery = sink.deliveries[0]
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["X-Webhook-Event"] == "completed"
    signature = delivery.headers["X-Webhook-Signature"]
    assert signature == webhooks.sign(delivery.raw, KEY)
    assert signature.startswith("sha256=")
    assert webhooks.verify(delivery.raw, signature, KEY)
    assert not webhooks.verify(delivery.raw, signature, "afk_another")
    assert delivery.body == {
        "event": "completed",
        "jobId": job_id,
        "model": "flux-2-max",
        "status": "COMPLETED",
        "progress": 100,
        "result": job["result"],
        "creditCost": 7,
        "completedAt": job["completedAt"],
    }
    assert KEY not in delivery.raw.decode()


async def test_progress_events_follow_the_steps_then_completed(api: Api, sink: Sink) -> None:
    """Subscribed progress events arrive at each step, in order, before `completed`."""
    job_id = (await api.submit(_hooked(sink, ["progress", "completed"]))).body["jobId"]
    api.sandbox.advance(1.0)
    for count in range(1, 5):
        api.sandbox.advance(0.8)
        await eventually(lambda count=count: len(sink.deliveries) == count)  # type: ignore[misc]
    api.sandbox.advance(0.8)
    await eventually(lambda: len(sink.deliveries) == 5)
    assert sink.events == ["progress"] * 4 + ["completed"]
    progress = [d.body for d in sink.deliveries[:4]]
    assert [p["progress"] for p in progress] == [10, 35, 60, 85]
    assert all(p["status"] == "PROCESSING" and p["jobId"] == job_id for p in progress)
    assert all(
        webhooks.verify(d.raw, d.headers["X-Webhook-Signature"], KEY) for d in sink.deliveries
    )


async def test_failed_event_carries_the_error(api: Api, sink: Sink) -> None:
    """A failed job sends `failed` with status and error text; `completed` is never sent."""
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Request Moderated"))
    job_id = (await api.submit(_hooked(sink))).body["jobId"]
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    assert (await _settled(api, job_id))["webhookStatus"] == "delivered"
    assert sink.events == ["failed"]
    assert sink.deliveries[0].body == {
        "event": "failed",
        "jobId": job_id,
        "model": "flux-2-max",
        "status": "FAILED",
        "error": "Request Moderated",
    }


async def test_events_not_subscribed_are_not_sent(api: Api, sink: Sink) -> None:
    """With webhookEvents ["completed"] a failing job sends nothing and reports no status."""
    api.sandbox.add_outcome(Outcome(status="FAILED", error="Provider returned 500"))
    job_id = (await api.submit(_hooked(sink, ["completed"]))).body["jobId"]
    api.sandbox.advance(60)
    job = await _settled(api, job_id)
    assert (job["status"], job["webhookStatus"]) == ("FAILED", None)
    assert sink.attempts == 0


async def test_jobs_without_a_webhook_report_null(api: Api) -> None:
    """A job submitted without webhookUrl has webhookStatus null throughout."""
    job = await api.finished()
    assert job["webhookStatus"] is None


async def test_a_500_answer_is_retried(api: Api, sink: Sink) -> None:
    """Two 500 answers are retried; the third attempt lands and the status is delivered."""
    sink.fail_next = 2
    job_id = (await api.submit(_hooked(sink))).body["jobId"]
    api.sandbox.advance(60)
    job = await _settled(api, job_id)
    assert (sink.attempts, sink.events, job["webhookStatus"]) == (3, ["completed"], "delivered")


async def test_delivery_gives_up_after_three_attempts(api: Api, sink: Sink) -> None:
    """Three failing attempts mark the webhook failed; no fourth is made."""
    sink.fail_next = 10
    job_id = (await api.submit(_hooked(sink))).body["jobId"]
    api.sandbox.advance(60)
    job = await _settled(api, job_id)
    assert (sink.attempts, job["webhookStatus"]) == (3, "failed")
    await asyncio.sleep(0.05)
    assert sink.attempts == 3


async def test_unreachable_receiver_marks_the_webhook_failed(api: Api) -> None:
    """A receiver that refuses connections ends in webhookStatus failed; the job completes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = {**BODY, "webhookUrl": f"http://127.0.0.1:{port}/hook"}
    job_id = (await api.submit(body)).body["jobId"]
    api.sandbox.advance(60)
    job = await _settled(api, job_id)
    assert (job["status"], job["webhookStatus"]) == ("COMPLETED", "failed")


async def test_fault_drop_sends_nothing(api: Api, sink: Sink) -> None:
    """The drop knob delivers no webhook at all, so the bot must fall back to polling."""
    api.sandbox.webhook_faults = WebhookFaults(drop=True)
    job_id = (await api.submit(_hooked(sink))).body["jobId"]
    api.sandbox.advance(60)
    job = await _settled(api, job_id)
    assert (job["status"], job["webhookStatus"], sink.attempts) == ("COMPLETED", "failed", 0)


async def test_fault_duplicate_sends_the_terminal_event_twice(api: Api, sink: Sink) -> None:
    """The duplicate knob delivers the same signed `completed` body twice."""
    api.sandbox.webhook_faults = WebhookFaults(duplicate=True)
    await api.submit(_hooked(sink))
    api.sandbox.advance(60)
    await eventually(lambda: len(sink.deliveries) == 2)
    assert sink.events == ["completed", "completed"]
    assert sink.deliveries[0].raw == sink.deliveries[1].raw


async def test_fault_bad_signature_does_not_verify(api: Api, sink: Sink) -> None:
    """The bad-signature knob sends a well-formed signature that fails verification."""
    api.sandbox.webhook_faults = WebhookFaults(bad_signature=True)
    await api.submit(_hooked(sink))
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    delivery = sink.deliveries[0]
    assert delivery.headers["X-Webhook-Signature"].startswith("sha256=")
    assert not webhooks.verify(delivery.raw, delivery.headers["X-Webhook-Signature"], KEY)


async def test_fault_bare_hex_signature_still_verifies(api: Api, sink: Sink) -> None:
    """The bare-hex knob drops the `sha256=` prefix; the digest is still the right one."""
    api.sandbox.webhook_faults = WebhookFaults(bare_hex=True)
    await api.submit(_hooked(sink))
    api.sandbox.advance(60)
    await eventually(lambda: bool(sink.deliveries))
    delivery = sink.deliveries[0]
    signature = delivery.headers["X-Webhook-Signature"]
    assert "sha256=" + signature == webhooks.sign(delivery.raw, KEY)
    assert webhooks.verify(delivery.raw, signature, KEY)


async def test_fault_out_of_order_sends_progress_after_completed(api: Api, sink: Sink) -> None:
    """The out-of-order knob sends a progress event after the terminal one."""
    api.sandbox.webhook_faults = WebhookFaults(out_of_order=True)
    await api.submit(_hooked(sink))
    api.sandbox.advance(60)
    await eventually(lambda: len(sink.deliveries) == 2)
    assert sink.events == ["completed", "progress"]
    late = sink.deliveries[1].body
    assert (late["status"], late["progress"]) == ("PROCESSING", 50)
    assert webhooks.verify(
        sink.deliveries[1].raw, sink.deliveries[1].headers["X-Webhook-Signature"], KEY
    )


async def test_webhook_faults_over_http(api: Api, sink: Sink) -> None:
    """POST /_sandbox/webhooks sets the knobs for another process (here: duplicate)."""
    answer = await api.call("POST", "/_sandbox/webhooks", key=None, json_body={"duplicate": True})
    assert answer.status == 200
    assert answer.body["duplicate"] is True
    await api.submit(_hooked(sink))
    api.sandbox.advance(60)
    await eventually(lambda: len(sink.deliveries) == 2)
