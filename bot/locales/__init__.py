"""The message catalogs, one gettext domain per part of the bot, and the commands that keep them.

    uv run python -m bot.locales extract [domain…]   # the .pot templates, from the code
    uv run python -m bot.locales update [domain…]    # merge them into every language's .po
    uv run python -m bot.locales init it             # start a new language
    uv run python -m bot.locales compile [domain…]   # check that every catalog compiles

Strings are found where the code marks them: `t("…")`, `tn("…", "…", n)` (bot.i18n) and
`_T("…")` (discord.py's `locale_str`, for command names, descriptions and choices).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
KEYWORDS = {"t": None, "tn": (1, 2), "_T": None}
# Which domain a source file's strings belong to: the longest matching path wins. One domain
# per part keeps the catalogs small enough to review.
DOMAINS: dict[str, tuple[str, ...]] = {
    "flux": ("cogs/flux", "cogs/_errors.py", "cogs/i18n.py"),
    "jobs": ("bot/jobs", "bot/images.py"),
    "moderation": ("bot/moderation", "cogs/flux/_gate.py", "cogs/budget.py", "cogs/audit.py"),
    "admin": ("cogs/admin", "cogs/usage.py", "bot/charts.py"),
    "corner": ("cogs/corner", "cogs/meta.py"),
    "core": ("app/bot.py",),
}
SOURCES = ("app", "bot", "cogs")


def domain_of(path: Path) -> str | None:
    """The domain of a source file (relative to the repository), or None."""
    text = path.as_posix()
    best: tuple[int, str] | None = None
    for domain, prefixes in DOMAINS.items():
        for prefix in prefixes:
            if (text == prefix or text.startswith(prefix + "/")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), domain)
    return best[1] if best else None


def sources() -> Iterator[Path]:
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "sandbox" not in path.parts and "migrations" not in path.parts:
                yield path.relative_to(ROOT)


def extracted(domain: str) -> Catalog:
    """The template of `domain`: every marked string in its files, with where it is."""
    catalog = Catalog(
        project="flux-bot",
        domain=domain,
        fuzzy=False,
        copyright_holder="the flux-bot contributors",
        msgid_bugs_address="the project's issue tracker",
    )
    for path in sources():
        if domain_of(path) != domain:
            continue
        for lineno, message, comments, context in extract_from_file(
            "python", ROOT / path, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(
                message,
                locations=[(path.as_posix(), lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def template(domain: str) -> Path:
    return HERE / f"{domain}.pot"


def _entries(catalog: Catalog) -> list[tuple[object, list[tuple[str, int]]]]:
    return [(message.id, list(message.locations)) for message in catalog if message.id]


def extract(*domains: str) -> None:
    """Write the templates whose strings moved (an unchanged one keeps its date)."""
    for domain in domains or tuple(DOMAINS):
        catalog = extracted(domain)
        path = template(domain)
        if path.exists():
            with path.open("rb") as handle:
                if _entries(read_po(handle)) == _entries(catalog):
                    continue
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100)


class CatalogError(RuntimeError):
    pass


def _pybabel(*args: str) -> None:
    if CommandLineInterface().run(["pybabel", "--quiet", *args]):
        raise CatalogError(f"pybabel {args[0]} -D {args[2]} failed")


def update(*domains: str) -> None:
    for domain in domains or tuple(DOMAINS):
        _pybabel("update", "-D", domain, "-i", str(template(domain)), "-d", str(HERE), "-w", "100")


def init(language: str) -> None:
    """Start `language`: a catalog for each domain that has none yet."""
    for domain in DOMAINS:
        if not (HERE / language / "LC_MESSAGES" / f"{domain}.po").exists():
            _pybabel(
                "init", "-D", domain, "-i", str(template(domain)), "-d", str(HERE), "-l", language
            )


def compile_all(*domains: str) -> None:
    for domain in domains or tuple(DOMAINS):
        _pybabel("compile", "-D", domain, "-d", str(HERE), "--statistics")
