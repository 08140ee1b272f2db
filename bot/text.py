"""Small helpers for the sentences members read."""

from __future__ import annotations


def noun(count: int, singular: str, plural: str | None = None) -> str:
    """The word for `count` things: `image` for 1, `images` otherwise."""
    return singular if count == 1 else plural or f"{singular}s"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`1 image`, `3 images`."""
    return f"{count} {noun(count, singular, plural)}"
