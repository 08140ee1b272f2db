"""The one error path, seen by a member: a command, a button or a form that fails shows an
error id (the same one the log has, with the traceback), never the exception's text."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests.conftest import ApiframeSandbox
from tests.discord_standin import LocalDiscord

SECRET_DETAIL = "internal detail that must stay in the log"
ERROR_ID = re.compile(r"error id `([0-9a-f]{8})`")


def done(message: Any) -> bool:
    return bool(message.attachments)


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET_DETAIL)


def _error_id(text: str, caplog: pytest.LogCaptureFixture) -> str:
    match = ERROR_ID.search(text)
    assert match is not None, text
    assert SECRET_DETAIL not in text
    [record] = [r for r in caplog.records if match[1] in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log
    assert SECRET_DETAIL in str(record.exc_info[1])
    return match[1]


async def test_a_button_whose_handler_raises_shows_the_error_id(
    bot: Any,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await discord_standin.invoke("flux", options={"prompt": "a cat"})
    image = await first.wait_original(done, timeout=20)
    reroll = next(c for c in image.custom_ids() if c.startswith("flux:reroll:"))
    monkeypatch.setattr(bot.store, "get", _broken)
    caplog.set_level(logging.ERROR)

    clicked = await discord_standin.click(image, reroll, user="bob")
    await discord_standin.wait_for(lambda: bool(clicked.followups))
    [apology] = clicked.followups
    assert apology.ephemeral
    _error_id(apology.content or "", caplog)
    # The public "thinking…" message did not become the apology, nor stay behind.
    assert clicked.original is None
    assert image.attachments  # the image clicked on is untouched


async def test_a_form_whose_handler_raises_shows_the_error_id(
    bot: Any,
    discord_standin: LocalDiscord,
    apiframe: ApiframeSandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await discord_standin.invoke("flux", options={"prompt": "a boat"})
    image = await first.wait_original(done, timeout=20)
    edit = next(c for c in image.custom_ids() if c.startswith("flux:edit:"))
    opened = await discord_standin.click(image, edit)
    await discord_standin.wait_for(lambda: opened.state.modal is not None)
    assert opened.state.modal is not None
    field = opened.state.modal["components"][0]
    custom_id = (field.get("components") or [field.get("component")])[0]["custom_id"]
    monkeypatch.setattr(bot.jobs, "create", _broken)
    caplog.set_level(logging.ERROR)

    submitted = await discord_standin.submit_modal(opened, {custom_id: "a boat at night"})
    await discord_standin.wait_for(lambda: bool(submitted.followups))
    [apology] = submitted.followups
    assert apology.ephemeral
    _error_id(apology.content or "", caplog)
    assert len(apiframe.sandbox.jobs) == 1  # nothing was sent for the failed edit


async def test_a_command_whose_handler_raises_shows_the_error_id(
    bot: Any,
    discord_standin: LocalDiscord,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.guild_store, "usage", _broken)
    caplog.set_level(logging.ERROR)
    used = await discord_standin.invoke("flux-usage")
    await discord_standin.wait_for(lambda: bool(used.followups))
    [apology] = used.followups
    assert apology.ephemeral
    _error_id(apology.content or "", caplog)
