"""flux-bot: FLUX.2 [max] for Discord, through Apiframe."""

__version__ = "0.1.0"
