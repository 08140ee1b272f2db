"""Each member's own corner: their defaults and presets (/flux-settings), their history
(/flux-history, with Show and Share) and /flux-forget-me."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.corner._settings import MemberSettings

if TYPE_CHECKING:
    from app.bot import FluxBot


async def setup(bot: FluxBot) -> None:
    await bot.add_cog(MemberSettings(bot))
