"""Webhook signatures: HMAC-SHA256 of the raw body keyed with SHA-256 of the API key."""

from __future__ import annotations

import hashlib
import hmac

from bot.apiframe import webhooks

KEY = "afk_abc123"
BODY = b'{"event":"completed","jobId":"j1","status":"COMPLETED"}'


def test_sign_matches_the_documented_derivation() -> None:
    """The signature is sha256=<hex> with the raw SHA-256 digest of the key as HMAC key."""
    expected = hmac.new(hashlib.sha256(KEY.encode()).digest(), BODY, hashlib.sha256).hexdigest()
    assert webhooks.sign(BODY, KEY) == f"sha256={expected}"


def test_verify_accepts_prefixed_bare_and_uppercase() -> None:
    """`sha256=<hex>`, bare hex and upper-case hex all verify."""
    signature = webhooks.sign(BODY, KEY)
    bare = signature.removeprefix("sha256=")
    assert webhooks.verify(BODY, signature, KEY)
    assert webhooks.verify(BODY, bare, KEY)
    assert webhooks.verify(BODY, bare.upper(), KEY)


def test_verify_refuses_bad_missing_tampered_and_wrong_key() -> None:
    """A wrong, empty or missing signature, a changed body, or another key all fail."""
    signature = webhooks.sign(BODY, KEY)
    assert not webhooks.verify(BODY, "sha256=" + "0" * 64, KEY)
    assert not webhooks.verify(BODY, None, KEY)
    assert not webhooks.verify(BODY, "", KEY)
    assert not webhooks.verify(BODY + b" ", signature, KEY)
    assert not webhooks.verify(BODY, signature, "afk_other")
