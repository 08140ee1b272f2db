"""The catalogs: complete in every language, placeholders and markup intact, in step with the
code; and the rendering rules (fallback, plurals, numbers)."""

from __future__ import annotations

import re
import string
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import i18n
from bot.i18n import Catalogs, language, t, tn
from bot.locales import DOMAINS, HERE, ROOT, domain_of, extracted, sources, template
from tests.i18n_sinks import bypasses

TRANSLATED = tuple(lang for lang in i18n.LANGUAGES if lang != i18n.ENGLISH)
# Files still being converted: each must leave this set (and the set must end empty).
PENDING: frozenset[str] = frozenset({})


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


_CODE = re.compile(r"`[^`]+`")
_MARKUP = ("**", "||", "<t:", "<#", "<@", "\n")


def _po(domain: str, lang: str) -> Catalog:
    with (HERE / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


# --- rendering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("discord_locale", "expected"),
    [
        ("de", "de"),
        ("fr", "fr"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("pt-BR", "pt_BR"),
        ("ja", "ja"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("ko", "en"),
        (None, "en"),
        ("pt_BR", "pt_BR"),
    ],
)
def test_a_discord_locale_picks_its_catalog_or_english(
    discord_locale: str | None, expected: str
) -> None:
    assert language(discord_locale) == expected


def test_the_channel_language_is_the_moderators_choice_else_the_servers() -> None:
    assert i18n.channel_language("fr", "de") == "fr"
    assert i18n.channel_language(None, "de") == "de"
    assert i18n.channel_language(None, "zh-CN") == "en"


@pytest.fixture
def tiny(tmp_path: Path) -> Catalogs:
    catalog = Catalog(locale="de", domain="test")
    catalog.add("Hello {name}.", "Hallo {name}.")
    catalog.add(("{count} image", "{count} images"), ("{count} Bild", "{count} Bilder"))
    catalog.add("Broken {name}.", "Kaputt {nom}.")
    catalog.add("You have {left} left.", "Du hast noch {left}.")
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "test.po").open("wb") as handle:
        write_po(handle, catalog)
    return Catalogs.load(tmp_path)


def test_a_message_renders_in_the_members_language_and_falls_back_to_english(
    tiny: Catalogs,
) -> None:
    assert tiny.render(t("Hello {name}.", name="Ada"), "de") == "Hallo Ada."
    assert tiny.render(t("Hello {name}.", name="Ada"), "ja") == "Hello Ada."
    assert tiny.render(t("Not in any catalog."), "de") == "Not in any catalog."


def test_plurals_and_numbers_follow_the_locale(tiny: Catalogs) -> None:
    assert tiny.render(tn("{count} image", "{count} images", 1), "de") == "1 Bild"
    assert tiny.render(tn("{count} image", "{count} images", 1234), "de") == "1.234 Bilder"
    assert tiny.render(tn("{count} image", "{count} images", 1234), "en") == "1,234 images"
    assert tiny.render(
        t("You have {left} left.", left=tn("{count} image", "{count} images", 2)), "de"
    ) == ("Du hast noch 2 Bilder.")
    assert i18n.number(1234567, "fr") == "1\u202f234\u202f567"
    assert i18n.day(date(2026, 12, 3), "de") == "03.12.2026"


def test_a_translation_with_a_wrong_placeholder_falls_back_to_english(tiny: Catalogs) -> None:
    assert tiny.render(t("Broken {name}.", name="x"), "de") == "Broken x."


def test_only_real_translations_are_offered_to_discord(tiny: Catalogs) -> None:
    assert tiny.lookup("de", "Hello {name}.") == "Hallo {name}."
    assert tiny.lookup("de", "Not in any catalog.") is None
    assert tiny.lookup("en", "Hello {name}.") is None


# --- the catalogs on disk ---------------------------------------------------------------


def test_every_language_has_every_domain() -> None:
    for domain in DOMAINS:
        assert template(domain).exists(), f"run `python -m bot.locales extract` ({domain})"
        for lang in TRANSLATED:
            assert (HERE / lang / "LC_MESSAGES" / f"{domain}.po").exists(), (domain, lang)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_the_templates_are_in_step_with_the_code(domain: str) -> None:
    with template(domain).open("rb") as handle:
        on_disk = _ids(read_po(handle))
    assert on_disk == _ids(extracted(domain)), (
        "run `uv run python -m bot.locales extract` then `update`, and translate"
    )


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_message_is_translated_with_its_placeholders_and_markup(
    domain: str, lang: str
) -> None:
    with template(domain).open("rb") as handle:
        wanted = _ids(read_po(handle))
    catalog = _po(domain, lang)
    assert wanted <= _ids(catalog), f"missing in {lang}/{domain}: {sorted(wanted - _ids(catalog))}"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        names = set().union(*(_placeholders(i) for i in ids))
        code = set().union(*(_CODE.findall(i) for i in ids))
        for text in strings:
            # A plural form may leave out {count} ("one image"); nothing else may go or come.
            got = _placeholders(text)
            if got - names or (names - {"count"} if len(ids) > 1 else names) - got:
                problems.append(f"placeholders differ: {ids[0]!r} → {text!r}")
            if set(_CODE.findall(text)) != code:
                problems.append(f"`code` changed: {ids[0]!r} → {text!r}")
            for mark in _MARKUP:
                if (mark in text) != any(mark in i for i in ids):
                    problems.append(f"markup {mark!r} differs: {ids[0]!r} → {text!r}")
    assert not problems, "\n".join(problems)


def test_no_member_facing_string_bypasses_the_catalogs() -> None:
    found = [
        str(b)
        for path in sources()
        if domain_of(path) is not None and path.as_posix() not in PENDING
        for b in bypasses(ROOT / path, ROOT)
    ]
    assert not found, "wrap these in t()/tn() (or mark `# i18n: not shown`):\n" + "\n".join(found)


def test_the_pending_list_only_names_files_still_to_convert() -> None:
    done = [p for p in PENDING if not bypasses(ROOT / p, ROOT)]
    assert not done, f"converted: remove from PENDING: {done}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_message_in_several_domains_has_one_translation(lang: str) -> None:
    """The domains are merged into one lookup per language, so a message two parts share
    (`{count} credit`) must read the same in both, or one would silently win."""
    seen: dict[object, tuple[str, object]] = {}
    clashes = []
    for domain in sorted(DOMAINS):
        for message in _po(domain, lang):
            if not message.id:
                continue
            key = (message.id, message.context)
            string = message.string if isinstance(message.string, str) else tuple(message.string)
            if key in seen and seen[key][1] != string:
                clashes.append(
                    f"{message.id!r}: {seen[key][0]} {seen[key][1]!r} ≠ {domain} {string!r}"
                )
            seen.setdefault(key, (domain, string))
    assert not clashes, "\n".join(clashes)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_no_message_reads_as_percent_format(domain: str) -> None:
    """Messages use {braces}; a "% u" in one reads to gettext's checker as a %-placeholder and
    `pybabel compile` (run by CI) refuses the catalog. Put the % last, or before punctuation."""
    with template(domain).open("rb") as handle:
        flagged = [m.id for m in read_po(handle) if m.id and m.python_format]
    assert not flagged, flagged
