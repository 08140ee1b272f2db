"""What /flux shows, in the reader's language: embeds, buttons, refusals and the error path
render their catalogs' text for the locale they are given, and English unchanged otherwise."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord

from bot.apiframe.models import RESOLUTIONS
from bot.i18n import t
from bot.jobs.describe import resolution_label
from bot.jobs.failures import Failure, FailureKind
from bot.jobs.presenter import Progress, Stage
from bot.jobs.request import generate
from cogs import _errors
from cogs.flux import RESOLUTION_CHOICES, _render
from cogs.flux._references import check_options
from cogs.flux._views import CancelButton, JobButton
from cogs.i18n import say
from tests.test_error_path import Channel, ExpiredResponse

JOB = "0b7e3c1a-1234-4abc-8def-0123456789ab"


def _fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


def test_every_resolution_has_its_choice_named_as_people_write_it() -> None:
    assert [c.value for c in RESOLUTION_CHOICES] == list(RESOLUTIONS)
    for choice in RESOLUTION_CHOICES:
        assert str(choice.name).startswith(resolution_label(choice.value))


def test_progress_speaks_the_readers_language() -> None:
    progress = Progress(stage=Stage.GENERATING, percent=40, elapsed_seconds=75, slow=True)
    german = _render.progress_embed("a fox", progress, JOB, locale="de")
    assert german.title == "Wird erzeugt…"
    assert set(_fields(german)) == {"Fortschritt", "Vergangen", "Noch in Arbeit…"}
    assert german.footer.text == f"FLUX.2 [max] · Auftrag {JOB}"
    english = _render.progress_embed("a fox", progress, JOB)
    assert english.title == "Generating…"
    assert "This is taking longer than usual" in _fields(english)["Still working…"]
    waiting = _render.progress_embed("a fox", Progress(stage=Stage.WAITING, position=3), JOB)
    assert waiting.title == "Waiting in line — #3…"


def test_the_result_and_a_failure_in_german() -> None:
    request = generate(default_resolution="1MP", seed=7)
    embed = _render.result_embed(
        prompt="a fox",
        request=request,
        user_id=42,
        job_id=JOB,
        seconds=65,
        filename="flux-0b7e3c1a.png",
        note="re-encoded",
        original_url="https://example.com/o.png",
        origin="https://discord.com/channels/1/2/3",
        locale="de",
    )
    fields = _fields(embed)
    assert fields["Angefordert von"] == "<@42>"
    assert fields["Dauer"] == "1m 05s"
    assert fields["Erstellt aus"] == "[dieser Nachricht](https://discord.com/channels/1/2/3)"
    assert "(Link läuft innerhalb eines Tages ab)" in fields["Hinweis"]
    # A member message may be plain words or a Text: both are rendered for the reader.
    for message in ("plain words", t("Nothing is waiting for you.")):
        failure = Failure(FailureKind.PROVIDER, message, "detail")  # type: ignore[arg-type]
        failed = _render.failure_embed("a fox", failure, JOB, locale="de")
        assert failed.title == "Diesmal kein Bild"
        assert failed.description in ("plain words", "Für dich liegt nichts bereit.")


def test_buttons_are_labelled_in_the_language_of_their_message() -> None:
    assert JobButton("pan-left", JOB, "fr").item.label == "Gauche"
    assert JobButton("pan-left", JOB).item.label == "Left"
    assert CancelButton(JOB, "ja").item.label == "キャンセル"


def test_a_missing_permission_is_named_as_discord_names_it_for_the_member() -> None:
    permissions = discord.Permissions(attach_files=False, embed_links=True)
    refusal = check_options("a fox", [], None, permissions)
    assert refusal is not None
    member: Any = SimpleNamespace(locale=discord.Locale.german)
    assert say(member, refusal) == (
        "Ich kann in diesem Kanal keine Bilder posten: Ich brauche hier die Berechtigung"
        " **Dateien anhängen**. Frag einen Server-Admin oder versuch es in einem anderen Kanal."
    )
    both = check_options("a fox", [], None, discord.Permissions.none())
    assert "**Attach Files** and **Embed Links**" in str(both)


async def test_the_last_resort_post_follows_the_servers_language() -> None:
    """When only the channel is left, the apology there is in the server's language (its
    policy could not be asked: the Community language), not the member's."""
    channel = Channel()
    member = SimpleNamespace(id=42, mention="<@42>")
    interaction: Any = SimpleNamespace(
        response=ExpiredResponse(),
        channel=channel,
        user=member,
        locale=discord.Locale.german,
        guild=SimpleNamespace(id=1, preferred_locale=discord.Locale.french),
        client=SimpleNamespace(),
    )
    await _errors.answer(interaction, _errors.apology("abcd1234"))
    [(content, _)] = channel.sent
    assert content == (
        "<@42> Désolé, quelque chose s'est mal passé de mon côté (identifiant d'erreur `abcd1234`)."
    )
