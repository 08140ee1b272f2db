"""Each member's own corner: their defaults and presets (/flux-settings), their history
(/flux-history, with Show and Share) and /flux-forget-me."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.corner._forget import ForgetButton, ForgetMe
from cogs.corner._history import History, PageButton
from cogs.corner._settings import MemberSettings
from cogs.corner._show import ShowButton

if TYPE_CHECKING:
    from app.bot import FluxBot


async def setup(bot: FluxBot) -> None:
    bot.add_dynamic_items(PageButton, ShowButton, ForgetButton)
    await bot.add_cog(MemberSettings(bot))
    await bot.add_cog(History(bot))
    await bot.add_cog(ForgetMe(bot))
