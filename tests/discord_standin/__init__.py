"""A local Discord that an unmodified discord.py client talks to over real HTTP and WebSocket."""

from tests.discord_standin.helpers import LocalDiscord

__all__ = ["LocalDiscord"]
