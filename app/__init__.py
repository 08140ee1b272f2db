"""The composition root: the entry point (`flux-bot`, `python -m app`), the Bot subclass, and the
one function that puts the core (`bot/`) and the Discord side (`cogs/`) together."""
