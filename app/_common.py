"""What every `flux-bot` command shares: exit codes, the one-line error, the secrets to mask."""

from __future__ import annotations

import sys

from bot.config import Settings

EXIT_FAILURE = 1
EXIT_SETTINGS = 2
EXIT_USAGE = 2  # refused before anything was sent (nothing paid)


def log_secrets(settings: Settings) -> list[str]:
    """What logs must never show: the token, the key, and the webhook path derived from it."""
    from bot.jobs.webhook import webhook_path_secret

    values = [
        secret.get_secret_value()
        for secret in (settings.discord_token, settings.apiframe_api_key)
        if secret is not None
    ]
    if settings.apiframe_api_key is not None:
        values.append(webhook_path_secret(settings.apiframe_api_key.get_secret_value()))
    return values


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
