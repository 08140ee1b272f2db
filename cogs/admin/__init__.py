"""`/flux-admin`: server staff set the policy and read usage."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import i18n
from bot.i18n import t
from bot.moderation.patterns import validate_pattern
from bot.moderation.policy import INHERIT, GuildPolicy, Tier
from cogs.admin import _format, _report
from cogs.admin._checks import admin_only, manager_only
from cogs.admin._editing import Editing
from cogs.admin._options import (
    LANGUAGE_CHOICES,
    OPTIONS,
    PERIOD_CHOICES,
    RESOLUTION_CHOICES,
    SERVER_DEFAULT,
    GenerateIn,
    features_edit,
)
from cogs.admin._terms import MAX_PATTERNS, MAX_TERM, added, no_limit, unblocked
from cogs.i18n import server_language

if TYPE_CHECKING:
    from app.bot import FluxBot


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(
    Editing,
    commands.GroupCog,
    group_name=_T("flux-admin"),
    group_description=_T("Set up the image bot"),
):
    """Every subcommand answers privately with what changed and writes it to the audit log."""

    channel = app_commands.Group(name=_T("channel"), description=_T("Where members may generate"))
    role = app_commands.Group(name=_T("role"), description=_T("Which roles may generate"))
    tier = app_commands.Group(name=_T("tier"), description=_T("More generous limits for a role"))
    rule = app_commands.Group(name=_T("rule"), description=_T("Blocked words and patterns"))
    adult = app_commands.Group(name=_T("adult"), description=_T("Adult content policy"))
    manager = app_commands.Group(
        name=_T("manager"), description=_T("Roles that may use /flux-admin")
    )

    def __init__(self, bot: FluxBot) -> None:
        self.bot = bot
        super().__init__()

    # --- show -------------------------------------------------------------------------

    @app_commands.command(name=_T("show"), description=_T("Show the settings in force"))
    @manager_only
    async def show(self, interaction: discord.Interaction[FluxBot]) -> None:
        policy = await self.bot.guild_policy(interaction.guild_id)
        server = interaction.guild.preferred_locale if interaction.guild else None
        embed = _report.settings_embed(policy, interaction.locale, server)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # --- where ------------------------------------------------------------------------

    @channel.command(name=_T("allow"), description=_T("Allow generating in a channel"))
    @app_commands.rename(channel=_T("channel"))
    @manager_only
    async def channel_allow(
        self, interaction: discord.Interaction[FluxBot], channel: GenerateIn
    ) -> None:
        await self._update(
            interaction,
            "allowed_channels",
            lambda old: old if channel.id in old else (*old, channel.id),
        )

    @channel.command(name=_T("remove"), description=_T("Stop generating in a channel"))
    @app_commands.rename(channel=_T("channel"))
    @manager_only
    async def channel_remove(
        self, interaction: discord.Interaction[FluxBot], channel: GenerateIn
    ) -> None:
        await self._update(
            interaction, "allowed_channels", lambda old: tuple(c for c in old if c != channel.id)
        )

    @channel.command(name=_T("everywhere"), description=_T("Allow generating in every channel"))
    @manager_only
    async def channel_everywhere(self, interaction: discord.Interaction[FluxBot]) -> None:
        await self._change(interaction, allowed_channels=())

    @channel.command(name=_T("threads"), description=_T("Whether threads follow their channel"))
    @app_commands.rename(inherit=_T("inherit"))
    @app_commands.describe(inherit=_T("On: a thread is allowed when its channel is"))
    @manager_only
    async def channel_threads(
        self, interaction: discord.Interaction[FluxBot], inherit: bool
    ) -> None:
        await self._change(interaction, threads_inherit=inherit)

    # --- who --------------------------------------------------------------------------

    @role.command(name=_T("allow"), description=_T("Let members with this role generate"))
    @app_commands.rename(role=_T("role"))
    @manager_only
    async def role_allow(
        self, interaction: discord.Interaction[FluxBot], role: discord.Role
    ) -> None:
        await self._update(
            interaction, "allowed_roles", lambda old: old if role.id in old else (*old, role.id)
        )

    @role.command(name=_T("remove"), description=_T("Remove a role from the allowed roles"))
    @app_commands.rename(role=_T("role"))
    @manager_only
    async def role_remove(
        self, interaction: discord.Interaction[FluxBot], role: discord.Role
    ) -> None:
        await self._update(
            interaction, "allowed_roles", lambda old: tuple(r for r in old if r != role.id)
        )

    @role.command(name=_T("everyone"), description=_T("Let every member generate"))
    @manager_only
    async def role_everyone(self, interaction: discord.Interaction[FluxBot]) -> None:
        await self._change(interaction, allowed_roles=())

    @app_commands.command(name=_T("ban"), description=_T("Stop a member from generating"))
    @app_commands.rename(member=_T("member"), reason=_T("reason"))
    @app_commands.describe(reason=_T("Shown to the member when they try"))
    @manager_only
    async def ban(
        self,
        interaction: discord.Interaction[FluxBot],
        member: discord.Member,
        reason: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        def edit(policy: GuildPolicy) -> dict[str, Any]:
            # Shown to the member as written: without one, in the server's language.
            language = server_language(interaction.guild, policy.language)
            given = reason or i18n.render(t("no reason given"), language)
            return {"banned": {**policy.banned, member.id: given}}

        await self._edit(interaction, edit)

    @app_commands.command(name=_T("unban"), description=_T("Let a banned member generate again"))
    @app_commands.rename(member=_T("member"))
    @manager_only
    async def unban(
        self, interaction: discord.Interaction[FluxBot], member: discord.Member
    ) -> None:
        await self._update(
            interaction, "banned", lambda old: {k: v for k, v in old.items() if k != member.id}
        )

    # --- how much ---------------------------------------------------------------------

    @app_commands.command(name=_T("limits"), description=_T("Limits for every member"))
    @app_commands.rename(
        daily=_T("daily"), monthly=_T("monthly"), cooldown=_T("cooldown"), in_flight=_T("in_flight")
    )
    @app_commands.describe(
        daily=_T("Images per member per day (0 means no limit)"),
        monthly=_T("Images per member per month (0 means no limit)"),
        cooldown=_T("Seconds between a member's images (0 for none)"),
        in_flight=_T("Images a member may have on the way at once"),
    )
    @manager_only
    async def limits(
        self,
        interaction: discord.Interaction[FluxBot],
        daily: app_commands.Range[int, 0, 100_000] | None = None,
        monthly: app_commands.Range[int, 0, 1_000_000] | None = None,
        cooldown: app_commands.Range[int, 0, 86_400] | None = None,
        in_flight: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        changes: dict[str, Any] = {}
        if daily is not None:
            changes["per_day"] = no_limit(daily)
        if monthly is not None:
            changes["per_month"] = no_limit(monthly)
        if cooldown is not None:
            changes["cooldown_seconds"] = cooldown
        if in_flight is not None:
            changes["jobs_per_member"] = in_flight
        if not changes:
            await self._tell(interaction, t("Give at least one limit to change."))
            return
        await self._change(interaction, **changes)

    @tier.command(
        name=_T("set"), description=_T("Set a role's limits (the most generous role wins)")
    )
    @app_commands.rename(
        role=_T("role"),
        daily=_T("daily"),
        monthly=_T("monthly"),
        max_resolution=_T("max_resolution"),
    )
    @app_commands.describe(
        daily=_T("Images per day (0 means no limit; leave out for everyone's)"),
        monthly=_T("Images per month (0 means no limit; leave out for everyone's)"),
        max_resolution=_T("Largest resolution for this role"),
    )
    @app_commands.choices(max_resolution=RESOLUTION_CHOICES)
    @manager_only
    async def tier_set(
        self,
        interaction: discord.Interaction[FluxBot],
        role: discord.Role,
        daily: app_commands.Range[int, 0, 100_000] | None = None,
        monthly: app_commands.Range[int, 0, 1_000_000] | None = None,
        max_resolution: Choice[str] | None = None,
    ) -> None:
        tier = Tier(
            role_id=role.id,
            per_day=INHERIT if daily is None else no_limit(daily),
            per_month=INHERIT if monthly is None else no_limit(monthly),
            max_resolution=max_resolution.value if max_resolution else None,
        )
        await self._update(
            interaction, "tiers", lambda old: (*(t for t in old if t.role_id != role.id), tier)
        )

    @tier.command(name=_T("remove"), description=_T("Remove a role's tier"))
    @app_commands.rename(role=_T("role"))
    @manager_only
    async def tier_remove(
        self, interaction: discord.Interaction[FluxBot], role: discord.Role
    ) -> None:
        await self._update(
            interaction, "tiers", lambda old: tuple(t for t in old if t.role_id != role.id)
        )

    # --- how big and what -------------------------------------------------------------

    @app_commands.command(name=_T("features"), description=_T("Sizes and options members may use"))
    @app_commands.rename(
        max_resolution=_T("max_resolution"),
        reference_images=_T("reference_images"),
        upsampling=_T("upsampling"),
        upscale=_T("upscale"),
        zoom_and_pan=_T("zoom_and_pan"),
    )
    @app_commands.describe(
        max_resolution=_T("Largest resolution for everyone (role tiers can allow more)"),
        reference_images=_T("Whether members may use reference images (and Vary, Edit with FLUX)"),
        upsampling=_T("Whether members may ask for prompt upsampling"),
        upscale=_T("Whether members may use the Upscale buttons"),
        zoom_and_pan=_T("Whether members may use Zoom Out, Make Square and Pan"),
    )
    @app_commands.choices(max_resolution=RESOLUTION_CHOICES)
    @manager_only
    async def features(
        self,
        interaction: discord.Interaction[FluxBot],
        max_resolution: Choice[str] | None = None,
        reference_images: bool | None = None,
        upsampling: bool | None = None,
        upscale: bool | None = None,
        zoom_and_pan: bool | None = None,
    ) -> None:
        edit = features_edit(
            max_resolution=max_resolution.value if max_resolution else None,
            references_allowed=reference_images,
            upsampling_allowed=upsampling,
            upscale=upscale,
            outpaint=zoom_and_pan,
        )
        if edit is None:
            await self._tell(interaction, t("Give at least one option to change."))
            return
        await self._edit(interaction, edit)

    # --- spend ------------------------------------------------------------------------

    @app_commands.command(name=_T("budget"), description=_T("Monthly spending limit in credits"))
    @app_commands.rename(credits=_T("credits"), warn_percent=_T("warn_percent"))
    @app_commands.describe(
        credits=_T("Apiframe credits per month (0 means no budget)"),
        warn_percent=_T("Warn the audit channel at this percentage"),
    )
    @manager_only
    async def budget(
        self,
        interaction: discord.Interaction[FluxBot],
        credits: app_commands.Range[int, 0, 100_000_000] | None = None,
        warn_percent: app_commands.Range[int, 1, 100] | None = None,
    ) -> None:
        changes: dict[str, Any] = {}
        if credits is not None:
            changes["monthly_budget"] = no_limit(credits)
        if warn_percent is not None:
            changes["budget_warn_percent"] = warn_percent
        if not changes:
            give = t("Give `{credits}` or `{warn_percent}`.", **OPTIONS)
            await self._tell(interaction, give)
            return
        await self._change(interaction, **changes)

    # --- prompt rules -----------------------------------------------------------------

    @rule.command(name=_T("add"), description=_T("Block a word, phrase or pattern in prompts"))
    @app_commands.rename(kind=_T("kind"), text=_T("text"))
    @app_commands.describe(
        kind=_T("A word or phrase (obfuscation-resistant), or a regular expression"),
        text=_T("The word, phrase or pattern"),
    )
    @app_commands.choices(
        kind=[
            Choice(name=_T("word or phrase"), value="word"),
            Choice(name=_T("pattern"), value="pattern"),
        ]
    )
    @manager_only
    async def rule_add(
        self,
        interaction: discord.Interaction[FluxBot],
        kind: Choice[str],
        text: app_commands.Range[str, 1, MAX_TERM],
    ) -> None:
        if kind.value == "pattern":
            problem = await asyncio.to_thread(validate_pattern, text)  # runs it, with timeouts
            if problem:
                await self._tell(
                    interaction, t("That pattern can't be used: {problem}.", problem=problem)
                )
                return
            await self._update(
                interaction, "blocked_patterns", lambda old: added(old, text, MAX_PATTERNS)
            )
            return
        await self._add_term(interaction, "blocked_words", text)

    @rule.command(name=_T("remove"), description=_T("Unblock a word, phrase or pattern"))
    @app_commands.rename(text=_T("text"))
    @manager_only
    async def rule_remove(
        self, interaction: discord.Interaction[FluxBot], text: app_commands.Range[str, 1, MAX_TERM]
    ) -> None:
        await self._edit(interaction, unblocked(text))

    @rule.command(name=_T("list"), description=_T("List the blocked words and patterns"))
    @manager_only
    async def rule_list(self, interaction: discord.Interaction[FluxBot]) -> None:
        policy = await self.bot.guild_policy(interaction.guild_id)
        embed = _report.rules_embed(policy, interaction.locale)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # --- adult content ----------------------------------------------------------------

    @adult.command(
        name=_T("allow"), description=_T("Allow adult prompts in age-restricted channels")
    )
    @app_commands.rename(enabled=_T("enabled"))
    @app_commands.describe(enabled=_T("Off: adult prompts are refused everywhere"))
    @manager_only
    async def adult_allow(self, interaction: discord.Interaction[FluxBot], enabled: bool) -> None:
        await self._change(interaction, adult_allowed=enabled)

    @adult.command(name=_T("add-term"), description=_T("Treat a word as adult content"))
    @app_commands.rename(term=_T("term"))
    @manager_only
    async def adult_add(
        self, interaction: discord.Interaction[FluxBot], term: app_commands.Range[str, 1, MAX_TERM]
    ) -> None:
        await self._add_term(interaction, "adult_terms", term)

    @adult.command(name=_T("remove-term"), description=_T("Stop treating a word as adult content"))
    @app_commands.rename(term=_T("term"))
    @manager_only
    async def adult_remove(
        self, interaction: discord.Interaction[FluxBot], term: app_commands.Range[str, 1, MAX_TERM]
    ) -> None:
        word = " ".join(term.lower().split())
        await self._update(
            interaction, "adult_terms", lambda old: tuple(t for t in old if t != word)
        )

    # --- audit and managers -----------------------------------------------------------

    @app_commands.command(name=_T("audit-channel"), description=_T("Where the audit log goes"))
    @app_commands.rename(channel=_T("channel"))
    @app_commands.describe(channel=_T("Leave out to turn the audit log off"))
    @manager_only
    async def audit_channel(
        self,
        interaction: discord.Interaction[FluxBot],
        channel: discord.TextChannel | None = None,
    ) -> None:
        if channel is not None:
            me = channel.guild.me
            permissions = channel.permissions_for(me) if me else None
            if permissions is not None and not (
                permissions.send_messages and permissions.embed_links
            ):
                refusal = t(
                    "I can't post in {channel}: I need **Send Messages** and **Embed Links**"
                    " there.",
                    channel=channel.mention,
                )
                await self._tell(interaction, refusal)
                return
        await self._change(interaction, audit_channel_id=channel.id if channel else None)

    @app_commands.command(
        name=_T("language"), description=_T("The language of posts everyone reads")
    )
    @app_commands.rename(language=_T("language"))
    @app_commands.describe(language=_T("For results in channels, the audit log and warnings"))
    @app_commands.choices(language=LANGUAGE_CHOICES)
    @manager_only
    async def language(
        self, interaction: discord.Interaction[FluxBot], language: Choice[str]
    ) -> None:
        chosen = None if language.value == SERVER_DEFAULT else language.value
        await self._change(interaction, language=chosen)

    @manager.command(name=_T("add"), description=_T("Let a role use /flux-admin"))
    @app_commands.rename(role=_T("role"))
    @admin_only
    async def manager_add(
        self, interaction: discord.Interaction[FluxBot], role: discord.Role
    ) -> None:
        await self._update(
            interaction, "manager_roles", lambda old: old if role.id in old else (*old, role.id)
        )

    @manager.command(name=_T("remove"), description=_T("Stop a role using /flux-admin"))
    @app_commands.rename(role=_T("role"))
    @admin_only
    async def manager_remove(
        self, interaction: discord.Interaction[FluxBot], role: discord.Role
    ) -> None:
        await self._update(
            interaction, "manager_roles", lambda old: tuple(r for r in old if r != role.id)
        )

    @app_commands.command(name=_T("reset"), description=_T("Forget every change: back to defaults"))
    @app_commands.rename(confirm=_T("confirm"))
    @app_commands.describe(confirm=_T("Set to True to really reset"))
    @admin_only
    async def reset(self, interaction: discord.Interaction[FluxBot], confirm: bool) -> None:
        if not confirm:
            refusal = t(
                "Nothing reset: set `{confirm}` to True to reset.", confirm=OPTIONS["confirm"]
            )
            await self._tell(interaction, refusal)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await self.bot.guild_store.reset(
            interaction.guild_id or 0, self.bot.policy_defaults
        )
        await self._report(interaction, change.before, change.after)

    # --- usage ------------------------------------------------------------------------

    @app_commands.command(name=_T("usage"), description=_T("Generations and credits per member"))
    @app_commands.rename(period=_T("period"), export=_T("export"))
    @app_commands.describe(period=_T("Which period"), export=_T("Attach the full table as CSV"))
    @app_commands.choices(period=PERIOD_CHOICES)
    @manager_only
    async def usage(
        self,
        interaction: discord.Interaction[FluxBot],
        period: Choice[str] | None = None,
        export: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = interaction.locale
        since, until, label = _format.period_bounds(
            period.value if period else "month", discord.utils.utcnow()
        )
        rows = await self.bot.guild_store.report(interaction.guild_id, since, until)
        days = await self.bot.guild_store.daily(interaction.guild_id, since, until)
        embed = _report.usage_embed(rows, label, interaction.locale)
        embed.set_image(url=f"attachment://{_report.CHART_NAME}")
        files = [await _report.usage_chart(interaction.guild, rows, days, label, locale)]
        files += [_report.usage_csv(rows, since, until)] if export else []
        await interaction.edit_original_response(embed=embed, attachments=files)


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(Admin(bot))
