"""`/flux-history`: a member's own images in this server, newest first, a page at a time.

The page is private; its buttons carry their state in their ids (the page and the filters,
or the job), so they keep working after a restart. Whoever clicks sees their own history.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands, ui
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.i18n import Text, render, t
from bot.jobs.describe import kind_label
from bot.storage.history import HistoryEntry, HistoryPage
from cogs import _errors as errors
from cogs import audit
from cogs.corner._show import ShowButton
from cogs.flux._render import quoted

if TYPE_CHECKING:
    from app.bot import FluxBot

PAGE_SIZE = 5
WORD_MAX = 40  # a filter word, carried in the page buttons' ids (at most 100 characters)
# Apiframe keeps a result about a day; after that its URL is gone.
RESULT_LIFETIME = timedelta(hours=24)
PAGE_ID = r"flux:history:page:(?P<page>\d{1,6}):(?P<kind>[a-z]*):(?P<word>.*)"  # i18n: not shown
# Literal here so the catalogs carry them; test_corner checks they match KIND_LABELS.
KIND_CHOICES = [
    Choice(name=_T("Generation"), value="generate"),
    Choice(name=_T("Upscale"), value="upscale"),
    Choice(name=_T("Zoom out / pan"), value="outpaint"),
]


def _filters(kind: str, word: str) -> Text | None:
    """The filters of a page, as a parenthesis after "Your images here"."""
    shown = discord.utils.escape_markdown(word)
    if kind and word:
        # TRANSLATORS: after "**Your images here**" and "None of your images here match".
        return t("({kind} only, with “{word}”)", kind=kind_label(kind), word=shown)
    if kind:
        return t("({kind} only)", kind=kind_label(kind))
    if word:
        return t("(with “{word}”)", word=shown)
    return None


def entry_embed(
    number: int, entry: HistoryEntry, guild_id: int | None, locale: object = None
) -> discord.Embed:
    """One image: its prompt, kind, date and seed, a thumbnail while Apiframe keeps it."""
    kind = kind_label(entry.kind)
    if entry.private:
        title = t("{number}. {kind} · 🔒 private", number=number, kind=kind)
    else:
        title = t("{number}. {kind}", number=number, kind=kind)
    embed = discord.Embed(
        title=render(title, locale),
        description=quoted(entry.prompt, 300) or render(t("(no prompt)"), locale),
        colour=audit.COLOUR_CHANGE,
    )
    # A Discord timestamp: each member's app writes it in their language and time zone.
    made = discord.utils.format_dt(entry.created_at, "f")
    embed.add_field(name=render(t("Made"), locale), value=made)
    embed.add_field(name=render(t("Seed"), locale), value=str(entry.seed))
    if entry.message_id:
        link = audit.jump_url(guild_id, entry.channel_id, entry.message_id)
        embed.add_field(
            name=render(t("Posted"), locale),
            value=render(t("[jump to it]({link})", link=link), locale),
        )
    done = entry.completed_at or entry.created_at
    if entry.result_url and discord.utils.utcnow() - done < RESULT_LIFETIME:
        embed.set_thumbnail(url=entry.result_url)
    else:
        embed.add_field(
            name=render(t("Image"), locale),
            value=render(t("expired at Apiframe (it keeps them about a day)"), locale),
        )
    return embed


def page_message(
    page: HistoryPage, kind: str, word: str, guild_id: int | None, locale: object = None
) -> tuple[str, list[discord.Embed], ui.View | None]:
    """The content, embeds and buttons of one page, in the language of `locale`."""
    filters = _filters(kind, word)
    if not page.entries:
        if filters is not None:
            return (
                render(t("None of your images here match {filters}.", filters=filters), locale),
                [],
                None,
            )
        return render(t("You have no images here yet: `/flux` makes one."), locale), [], None
    first = page.page * PAGE_SIZE + 1
    last = first + len(page.entries) - 1
    if filters is None:
        content = t(
            "**Your images here**, newest first: {first}–{last} of {total}."
            " **Show** posts one again for you only; **Share** posts it in this channel for"
            " everyone (a private one becomes public).",
            first=first,
            last=last,
            total=page.total,
        )
    else:
        content = t(
            "**Your images here** {filters}, newest first: {first}–{last} of {total}."
            " **Show** posts one again for you only; **Share** posts it in this channel for"
            " everyone (a private one becomes public).",
            filters=filters,
            first=first,
            last=last,
            total=page.total,
        )
    embeds = [entry_embed(first + i, e, guild_id, locale) for i, e in enumerate(page.entries)]
    view = errors.View(timeout=None)
    for i, entry in enumerate(page.entries):
        view.add_item(ShowButton("show", entry.job_id, first + i, locale))
    for i, entry in enumerate(page.entries):
        view.add_item(ShowButton("share", entry.job_id, first + i, locale))
    if page.page > 0:
        view.add_item(PageButton(page.page - 1, kind, word, render(t("◀ Newer"), locale)))
    at = t("Page {page} of {pages}", page=page.page + 1, pages=page.pages)
    view.add_item(
        ui.Button(label=render(at, locale), disabled=True, custom_id="flux:history:at", row=2)
    )
    if page.page < page.pages - 1:
        view.add_item(PageButton(page.page + 1, kind, word, render(t("Older ▶"), locale)))
    return render(content, locale), embeds, view


async def read_page(
    interaction: discord.Interaction[FluxBot], page: int, kind: str, word: str
) -> tuple[str, list[discord.Embed], ui.View | None]:
    history = interaction.client.services.history
    found = await history.page(
        interaction.guild_id or 0,
        interaction.user.id,
        page=page,
        size=PAGE_SIZE,
        kind=kind or None,
        word=word or None,
    )
    return page_message(found, kind, word, interaction.guild_id, interaction.locale)


class PageButton(
    ui.DynamicItem[ui.Button[Any]],
    template=PAGE_ID,
):
    """Another page of the clicker's own history, with the same filters."""

    def __init__(self, page: int, kind: str, word: str, label: str = "") -> None:
        super().__init__(
            ui.Button(
                label=label or str(page + 1),
                style=discord.ButtonStyle.primary,
                custom_id=f"flux:history:page:{page}:{kind}:{word}",
                row=2,
            )
        )
        self.page, self.kind, self.word = page, kind, word

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> PageButton:
        return cls(int(match["page"]), match["kind"], match["word"])

    @errors.guarded
    async def callback(self, interaction: discord.Interaction[FluxBot]) -> None:  # type: ignore[override]
        await interaction.response.defer()  # the page itself is "@original" now
        content, embeds, view = await read_page(interaction, self.page, self.kind, self.word)
        await interaction.edit_original_response(content=content, embeds=embeds, view=view)


class History(commands.Cog):
    """`/flux-history`."""

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=_T("flux-history"), description=_T("Your images in this server, newest first")
    )
    @app_commands.guild_only()
    # TRANSLATORS: option names: lowercase, no spaces, at most 32 characters.
    @app_commands.rename(kind=_T("kind"), word=_T("word"))
    @app_commands.describe(
        kind=_T("Only one kind of image"), word=_T("Only prompts with this word or phrase")
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def flux_history(
        self,
        interaction: discord.Interaction[FluxBot],
        kind: Choice[str] | None = None,
        word: app_commands.Range[str, 1, WORD_MAX] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        filters = (kind.value if kind else "", " ".join((word or "").split()))
        content, embeds, view = await read_page(interaction, 0, *filters)
        if view is None:
            await interaction.edit_original_response(content=content)
        else:
            await interaction.edit_original_response(content=content, embeds=embeds, view=view)
