"""Apiframe webhook signatures: HMAC-SHA256 of the raw body, keyed with SHA-256 of the API key."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Webhook-Signature"
EVENT_HEADER = "X-Webhook-Event"


def _signing_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def sign(body: bytes, api_key: str) -> str:
    """The `X-Webhook-Signature` value Apiframe sends for this raw body."""
    digest = hmac.new(_signing_key(api_key), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, signature: str | None, api_key: str) -> bool:
    """True when `signature` (`sha256=<hex>` or bare hex) matches the raw body; constant time."""
    if not signature:
        return False
    given = signature.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    expected = sign(body, api_key).removeprefix("sha256=")
    # The docs leave open whether the key is the raw digest or its hex string; accept both.
    alternate = hmac.new(
        hashlib.sha256(api_key.encode()).hexdigest().encode(), body, hashlib.sha256
    ).hexdigest()
    given_bytes = given.lower().encode()
    return hmac.compare_digest(given_bytes, expected.encode()) | hmac.compare_digest(
        given_bytes, alternate.encode()
    )
