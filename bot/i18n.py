"""The member's language: gettext catalogs read with Babel, numbers, dates and plurals by CLDR.

Messages are written in English as `t("You have {count} left.", count=n)` or
`tn("{count} image", "{count} images", n)`: a `Text` that is rendered later, in the reader's
language, by `render(text, locale)`. Core code returns `Text`; the cogs render it with the
interaction's locale (or the server's, for a post everyone reads). Catalogs live in
`bot/locales/<language>/LC_MESSAGES/<domain>.po`; see `bot/locales/__init__.py` for the
commands that extract, update and compile them.
"""

from __future__ import annotations

import gettext
import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
ENGLISH = "en"
# The languages with a catalog; every other Discord locale falls back to English.
LANGUAGES = ("en", "de", "fr", "es", "pt_BR", "ja")
LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt_BR": "Português do Brasil",
    "ja": "日本語",
}


def language(locale: object) -> str:
    """The catalog language for a Discord locale (`de`, `pt-BR`, `es-419`, `en-GB`…) or for
    one of ours (`pt_BR`); English for anything else, `None` included."""
    text = str(getattr(locale, "value", locale) or "").replace("-", "_")
    if text in LANGUAGES:
        return text
    base = text.split("_", 1)[0].lower()
    if base == "pt":
        return "pt_BR"  # the one Portuguese Discord offers
    return base if base in LANGUAGES else ENGLISH


def channel_language(chosen: str | None, preferred_locale: object) -> str:
    """The language of a post everyone in a channel reads: the one a moderator chose with
    `/flux-admin language`, else the server's preferred locale."""
    return language(chosen) if chosen else language(preferred_locale)


@dataclass(frozen=True, slots=True)
class Text:
    """A message to be shown in some language: the English `msgid` (with `plural` for a
    count) and its `{placeholders}`. Parameters are rendered by type: `Text` in the same
    language, `int`/`float` with the locale's digits grouping, `date`/`datetime` in its medium
    format, anything else with `str` (pass ids and seeds as `str` to keep them ungrouped)."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: int | None = None

    def render(self, locale: object = None) -> str:
        return render(self, locale)

    def __str__(self) -> str:
        return render(self, ENGLISH)


def t(msgid: str, /, **params: Any) -> Text:
    """A message (extracted by `pybabel extract -k t`)."""
    return Text(msgid, params)


def tn(singular: str, plural: str, count: int, /, **params: Any) -> Text:
    """A message that depends on `count`, available to both forms as `{count}`."""
    return Text(singular, {"count": count, **params}, plural, count)


Renderable = Text | str


class Catalogs:
    """One gettext `Translations` per language, every domain merged."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations]) -> None:
        self._translations = dict(translations)
        self._null = gettext.NullTranslations()

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Catalogs:
        """Read every `.po` under `directory` (blocking: run it in a thread). Compiled in
        memory, so a fresh clone needs no build step."""
        found: dict[str, Translations] = {}
        for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
            lang = po.parent.parent.name
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=lang, domain=po.stem)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            compiled = Translations(buffer, domain=po.stem)
            if lang in found:
                found[lang].merge(compiled)
            else:
                found[lang] = compiled
        return cls(found)

    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._translations))

    def _for(self, lang: str) -> gettext.NullTranslations:
        return self._translations.get(lang, self._null)

    def lookup(self, lang: str, msgid: str) -> str | None:
        """The translation of `msgid`, or None where the catalog has none (for Discord's
        command localizations, which fall back by themselves)."""
        translated = self._for(lang).gettext(msgid)
        return translated if lang != ENGLISH and translated != msgid else None

    def render(self, text: Renderable, locale: object = None) -> str:
        if isinstance(text, str):
            return text
        lang = language(locale)
        translations = self._for(lang)
        if text.plural is not None and text.count is not None:
            pattern = translations.ngettext(text.msgid, text.plural, text.count)
            fallback = text.msgid if text.count == 1 else text.plural
        else:
            pattern = translations.gettext(text.msgid)
            fallback = text.msgid
        values = {name: self._value(value, lang) for name, value in text.params.items()}
        try:
            return pattern.format_map(values)
        except (KeyError, IndexError, ValueError):
            # A translation with a broken placeholder must not cost the member the message.
            log.warning("translation of %r for %s has bad placeholders", text.msgid, lang)
            return fallback.format_map(values)

    def _value(self, value: Any, lang: str) -> str:
        if isinstance(value, Text):
            return self.render(value, lang)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float):
            return number(value, lang)
        if isinstance(value, datetime):
            return dates.format_datetime(value, "medium", locale=_babel(lang))
        if isinstance(value, date):
            return dates.format_date(value, "medium", locale=_babel(lang))
        return str(value)


_installed: Catalogs | None = None
_lock = threading.Lock()


def install(catalogs: Catalogs) -> None:
    """Use `catalogs` from now on (the bot loads them in a thread at start)."""
    global _installed
    _installed = catalogs


def catalogs() -> Catalogs:
    """The installed catalogs, read on first use where nothing installed them (the CLI,
    tests)."""
    global _installed
    if _installed is None:
        with _lock:
            if _installed is None:
                _installed = Catalogs.load()
    return _installed


def render(text: Renderable, locale: object = None) -> str:
    """`text` in the language of `locale` (a Discord locale or one of ours)."""
    return catalogs().render(text, locale)


def _babel(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(ENGLISH)


def number(value: float, locale: object = None) -> str:
    """`1,234` in English, `1.234` in German, `1 234` in French."""
    return numbers.format_decimal(value, locale=_babel(language(locale)))


def day(value: date, locale: object = None) -> str:
    """A calendar day in the locale's medium format (`Dec 3, 2026`, `03.12.2026`)."""
    return dates.format_date(value, "medium", locale=_babel(language(locale)))
