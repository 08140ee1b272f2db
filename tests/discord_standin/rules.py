"""Discord's limits, checked on every message body the bot sends. Each breach is a violation."""

from __future__ import annotations

import re
from typing import Any

import regex

NAME = re.compile(r"^[-_'\w]{1,32}$")
# The exact rule for slash command and option names, in every language.
LOCALIZED_NAME = regex.compile(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$")
LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
COMMAND_CHARACTERS = 8000
OPTION_TYPES = set(range(1, 12))


def is_empty(payload: dict[str, Any], files: int = 0) -> bool:
    """A new message with nothing to show, which Discord refuses (50006)."""
    shown = ("content", "embeds", "components", "sticker_ids", "poll")
    return not files and not any(payload.get(key) for key in shown)


def check_message(payload: dict[str, Any]) -> list[str]:
    """Problems with a message create/edit payload (content, embeds, components, attachments)."""
    problems: list[str] = []
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        problems.append(f"content is {len(content)} characters (max 2000)")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds (max 10)")
    total = 0
    for embed in embeds:
        for key, limit in (("title", 256), ("description", 4096)):
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append(f"embed {key} is {len(text)} characters (max {limit})")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{len(fields)} embed fields (max 25)")
        for field in fields:
            name, value = field.get("name") or "", field.get("value") or ""
            total += len(name) + len(value)
            if not name or len(name) > 256:
                problems.append(f"embed field name of {len(name)} characters (1-256)")
            if not value or len(value) > 1024:
                problems.append(f"embed field value of {len(value)} characters (1-1024)")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            problems.append("embed footer over 2048 characters")
        if len(author) > 256:
            problems.append("embed author name over 256 characters")
    if total > 6000:
        problems.append(f"embeds hold {total} characters in total (max 6000)")
    problems += check_components(payload.get("components") or [])
    for attachment in payload.get("attachments") or []:
        if len(attachment.get("description") or "") > 1024:
            problems.append("attachment description over 1024 characters")
    return problems


def check_components(rows: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    if len(rows) > 5:
        problems.append(f"{len(rows)} action rows (max 5)")
    seen: set[str] = set()
    for row in rows:
        children = row.get("components") or []
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if len(children) > 5 or (selects and len(children) > 1):
            problems.append("an action row holds more than 5 buttons or a select with others")
        for child in children:
            custom_id = child.get("custom_id")
            if child.get("type") == 2 and child.get("style") == 5:
                continue
            if not custom_id or len(custom_id) > 100:
                problems.append(f"custom_id of {len(custom_id or '')} characters (1-100)")
            elif custom_id in seen:
                problems.append(f"duplicate custom_id {custom_id}")
            seen.add(custom_id or "")
            if len(child.get("label") or "") > 80:
                problems.append("button label over 80 characters")
    return problems


def check_modal(data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if len(data.get("title") or "") > 45 or not data.get("title"):
        problems.append("modal title must be 1-45 characters")
    custom_id = data.get("custom_id") or ""
    if not 1 <= len(custom_id) <= 100:
        problems.append("modal custom_id must be 1-100 characters")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        problems.append(f"modal has {len(components)} components (1-5)")
    return problems


def check_choices(choices: Any) -> list[str]:
    """Problems with an autocomplete answer's choices: at most 25, each named in 1-100
    characters, with a value (a string value of at most 100 characters)."""
    if not isinstance(choices, list):
        return ["choices must be a list"]
    problems = [f"{len(choices)} choices (max 25)"] if len(choices) > 25 else []
    for choice in choices:
        name, value = choice.get("name") or "", choice.get("value")
        if not 1 <= len(name) <= 100:
            problems.append(f"choice name of {len(name)} characters (1-100)")
        if value is None or (isinstance(value, str) and not 1 <= len(value) <= 100):
            problems.append(f"choice {name!r}: value must be 1-100 characters")
    return problems


def check_command(command: dict[str, Any]) -> list[str]:
    """Problems with one application command definition."""
    problems: list[str] = []
    name = command.get("name") or ""
    kind = command.get("type", 1)
    if kind == 1:
        if not NAME.match(name) or name != name.lower():
            problems.append(f"command name {name!r} is invalid")
        description = command.get("description") or ""
        if not 1 <= len(description) <= 100:
            problems.append(f"command {name}: description of {len(description)} characters")
    elif kind in (2, 3):
        # User and message commands: a name of 1-32 characters (capitals and spaces allowed),
        # an empty description and no options.
        if not 1 <= len(name) <= 32:
            problems.append(f"context menu name {name!r} must be 1-32 characters")
        if command.get("description"):
            problems.append(f"context menu {name!r}: description must be empty")
        if command.get("options"):
            problems.append(f"context menu {name!r}: may not have options")
    else:
        problems.append(f"command {name}: unknown type {kind}")
    problems += _check_localized(name, command, name_rule=kind == 1)
    problems += _check_options(name, command.get("options") or [], depth=0)
    if _characters(command) > COMMAND_CHARACTERS:
        problems.append(f"command {name}: over {COMMAND_CHARACTERS} characters")
    return problems


def _localized(item: dict[str, Any], field: str) -> dict[str, str]:
    return item.get(f"{field}_localizations") or {}


def _check_localized(
    path: str, item: dict[str, Any], *, name_rule: bool, name_limit: int = 32
) -> list[str]:
    """A name's and a description's translations: known locales, and the same limits as the
    English (a lowercase name without spaces; a description of 1-100 characters)."""
    problems: list[str] = []
    for field in ("name", "description"):
        for locale, text in _localized(item, field).items():
            where = f"{path}: {field} in {locale}"
            if locale not in LOCALES:
                problems.append(f"{where}: unknown locale")
            if not isinstance(text, str):
                problems.append(f"{where}: not a string")
                continue
            if field == "name" and name_rule:
                if not LOCALIZED_NAME.match(text) or text != text.lower():
                    problems.append(f"{where}: invalid name {text!r}")
            elif not 1 <= len(text) <= (name_limit if field == "name" else 100):
                problems.append(f"{where}: {len(text)} characters")
    return problems


def _characters(item: dict[str, Any]) -> int:
    """Names, descriptions and choice values with the longest localization of each."""
    total = 0
    for field in ("name", "description"):
        texts = [item.get(field) or "", *_localized(item, field).values()]
        total += max(len(str(text)) for text in texts)
    if "value" in item:
        total += len(str(item["value"]))
    for child in (item.get("options") or []) + (item.get("choices") or []):
        total += _characters(child)
    return total


def _unique_names(where: str, options: list[dict[str, Any]]) -> list[str]:
    """Option names are unique within a level in every language."""
    problems: list[str] = []
    for locale in {locale for o in options for locale in _localized(o, "name")}:
        names = [_localized(o, "name").get(locale, o.get("name")) for o in options]
        if len(names) != len(set(names)):
            problems.append(f"{where}: option names repeat in {locale}")
    return problems


def _check_options(where: str, options: list[dict[str, Any]], depth: int) -> list[str]:
    problems: list[str] = []
    if len(options) > 25:
        problems.append(f"{where}: {len(options)} options (max 25)")
    optional_seen = False
    for option in options:
        name = option.get("name") or ""
        path = f"{where}.{name}"
        if not NAME.match(name) or name != name.lower():
            problems.append(f"{path}: invalid option name")
        if not 1 <= len(option.get("description") or "") <= 100:
            problems.append(f"{path}: description must be 1-100 characters")
        problems += _check_localized(path, option, name_rule=True)
        kind = option.get("type")
        if kind not in OPTION_TYPES:
            problems.append(f"{path}: unknown option type {kind}")
        if kind in (1, 2):
            if depth >= (2 if kind == 1 else 1):
                problems.append(f"{path}: subcommands nested too deep")
            problems += _check_options(path, option.get("options") or [], depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                problems.append(f"{path}: required option after an optional one")
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if option.get("autocomplete") and choices:
            problems.append(f"{path}: autocomplete and choices cannot be used together")
        if option.get("autocomplete") and kind not in (3, 4, 10):
            problems.append(f"{path}: only string, integer and number options autocomplete")
        if len(choices) > 25:
            problems.append(f"{path}: {len(choices)} choices (max 25)")
        for choice in choices:
            if not 1 <= len(choice.get("name") or "") <= 100:
                problems.append(f"{path}: choice name must be 1-100 characters")
            problems += _check_localized(f"{path}.choice", choice, name_rule=False, name_limit=100)
    return problems + _unique_names(where, options)
