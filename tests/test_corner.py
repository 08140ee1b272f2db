"""The member's own corner and /flux-help in the member's language: the renderers take the
interaction's locale (German here), English stays as it was, and the command strings of these
files keep Discord's limits in every language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.messages.extract import extract_from_file

from bot import i18n
from bot.i18n import render
from bot.jobs.defaults import MemberDefaults
from bot.jobs.describe import KIND_LABELS
from bot.locales import ROOT
from bot.storage.history import Forgotten, HistoryEntry, HistoryPage
from cogs.corner._forget import ForgetButton, summary
from cogs.corner._history import KIND_CHOICES, page_message
from cogs.corner._settings import defaults_embed
from cogs.meta import help_embed

FILES = (
    "cogs/corner/_forget.py",
    "cogs/corner/_history.py",
    "cogs/corner/_settings.py",
    "cogs/corner/_show.py",
    "cogs/meta.py",
)
TRANSLATED = tuple(lang for lang in i18n.LANGUAGES if lang != i18n.ENGLISH)


def _entry(n: int, *, private: bool = False) -> HistoryEntry:
    now = datetime.now(UTC)
    return HistoryEntry(
        job_id=str(uuid.UUID(int=n)),
        prompt=f"lantern {n}",
        kind="generate",
        seed=40 + n,
        private=private,
        created_at=now - timedelta(days=3),
        completed_at=now - timedelta(days=3),
        result_url=None,
        channel_id=1,
        message_id=None if private else 99,
    )


def _labels(view: Any) -> list[str]:
    return [getattr(item, "item", item).label for item in view.children]


def test_a_german_member_gets_german_help() -> None:
    german = help_embed(30, "de")
    assert german.title == "FLUX.2 [max] Bild-Bot"
    assert german.description is not None
    assert german.description.startswith("Ich verwandle deine Worte in Bilder")
    # Options by the names Discord shows a German member; the command name stays.
    assert "`/flux vorlage:`" in german.description
    assert "`auflösung` (0,5–4 MP)" in german.description
    assert "`prompt-erweiterung`" in german.description
    assert "`/flux preset:`" in str(help_embed(30, "en-US").description)
    [kept] = german.fields
    assert kept.name == "Was ich über dich speichere"
    assert "Prompts und Links 30 Tage" in str(kept.value)
    assert "Prompts und Links 1 Tag," in str(help_embed(1, "de").fields[0].value)
    english = help_embed(30, "en-US")
    assert english.title == "FLUX.2 [max] image bot"
    assert "prompts and links for 30 days" in str(english.fields[0].value)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_help_fits_discords_embed_limits_in_every_language(lang: str) -> None:
    for days in (1, 90, 3650):
        embed = help_embed(days, lang)
        assert len(embed.title or "") <= 256
        assert len(embed.description or "") <= 4096
        assert len(str(embed.fields[0].value)) <= 1024, (lang, days)
        assert len(str(embed.fields[0].name)) <= 256


async def test_a_german_member_gets_german_settings() -> None:
    from cogs.corner._settings import SHOWN

    none = defaults_embed(SHOWN, MemberDefaults(), [], "1MP", "de")
    assert none.title == "Deine Standardwerte auf diesem Server"
    assert none.description == (
        "Noch keine: `/flux` nutzt die Standardwerte des Servers (1 MP, 1:1, JPG, öffentlich)."
        " Lege deine mit `/flux-settings set` fest."
    )
    assert str(none.footer.text).startswith("Eine Option")
    capped = defaults_embed(SHOWN, MemberDefaults(resolution="4MP"), ["a note"], "1MP", "de")
    assert [f.name for f in capped.fields][-1] == "Auf diesem Server"
    english = defaults_embed(SHOWN, MemberDefaults(), [], "1MP", "en")
    assert english.title == "Your defaults in this server"
    assert str(english.description).startswith("None yet")


async def test_a_german_member_gets_a_german_history_page() -> None:
    page = HistoryPage(entries=[_entry(1), _entry(2, private=True)], page=0, pages=2, total=7)
    content, embeds, view = page_message(page, "generate", "lantern", 1, "de")
    assert content.startswith("**Deine Bilder hier** (nur ")
    assert "mit „lantern“), neueste zuerst: 1–2 von 7." in content
    assert str(embeds[1].title).endswith(" · 🔒 privat")
    fields = {f.name: f.value for f in embeds[0].fields}
    assert fields["Seed"] == "41"
    assert str(fields["Erstellt"]).startswith("<t:")  # Discord writes the date in their language
    assert fields["Bild"] == "bei Apiframe abgelaufen (dort bleiben Bilder etwa einen Tag)"
    assert view is not None
    assert _labels(view) == [
        "Zeigen 1",
        "Zeigen 2",
        "Teilen 1",
        "Teilen 2",
        "Seite 1 von 2",
        "Ältere ▶",
    ]
    empty = HistoryPage(entries=[], page=0, pages=1, total=0)
    assert page_message(empty, "", "", 1, "de")[0] == (
        "Du hast hier noch keine Bilder: `/flux` erzeugt eins."
    )
    assert page_message(empty, "", "harbour", 1, "de")[0] == (
        "Hier passt keins deiner Bilder (mit „harbour“)."
    )
    english, _, _ = page_message(page, "", "", 1, "en-US")
    assert english.startswith("**Your images here**, newest first: 1–2 of 7.")


async def test_forget_me_speaks_german_with_german_plurals_and_numbers() -> None:
    done = Forgotten(jobs=1234, defaults=1, presets=2)
    assert render(summary(done), "de") == (
        "Erledigt. Ich habe die Prompts und Bildlinks von 1.234 Bildern, deine Standardwerte"
        " auf 1 Server und 2 Vorlagen gelöscht. Nur die Zahlen bleiben (siehe oben); dein"
        " nächstes Bild beginnt einen neuen Verlauf."
    )
    assert render(summary(Forgotten(jobs=2, defaults=1, presets=1)), "en-US").startswith(
        "Done. I deleted the prompts and image links of 2 images, your defaults in 1 server"
        " and 1 preset."
    )
    assert render(summary(Forgotten(busy=1)), "de").startswith("Du hast noch 1 Bild in Arbeit")
    assert "sobald sie angekommen sind" in render(summary(Forgotten(busy=3)), "de")
    assert "once it has arrived" in render(summary(Forgotten(busy=1)), "en")
    yes, no = ForgetButton("yes", 7, "de"), ForgetButton("no", 7, "ja")
    assert (yes.item.label, no.item.label) == ("Mich vergessen", "すべて残す")


def test_the_kind_choices_are_the_kinds_as_people_read_them() -> None:
    assert {c.value: c.name for c in KIND_CHOICES} == {
        kind: str(label) for kind, label in KIND_LABELS.items()
    }


def _command_strings() -> list[tuple[str, str]]:
    """(message, where) of every `_T` in these files: option names, descriptions, choices."""
    found = []
    for path in FILES:
        for _, message, _, _ in extract_from_file("python", ROOT / path, keywords={"_T": None}):
            found.append((str(message), path))
    return found


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_command_strings_keep_discords_limits(lang: str) -> None:
    catalogs = i18n.catalogs()
    problems = []
    option_names = {"kind", "word", "name", "suffix"}
    for message, path in _command_strings():
        translated = catalogs.lookup(lang, message) or message
        if message in option_names:
            name = translated.strip().lower().replace(" ", "-")
            if not (1 <= len(name) <= 32 and all(c.isalnum() or c in "-_'" for c in name)):
                problems.append(f"{path}: option name {message!r} → {name!r}")
        elif not 1 <= len(translated) <= 100:
            problems.append(f"{path}: {message!r} → {len(translated)} characters")
    assert not problems, "\n".join(problems)
    assert catalogs.lookup(lang, "kind") is not None  # option names are translated
