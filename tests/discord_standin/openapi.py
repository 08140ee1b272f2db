"""Validate request bodies against Discord's own OpenAPI 3.1 description of API v10."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

# Discord's OpenAPI description (MIT, see discord-openapi.LICENSE), kept in the repository so a
# fresh clone checks every request too; test_standin compares it with ../shared when present.
SPEC_PATH = Path(__file__).parent / "discord-openapi.json.gz"
SHARED_SPEC = Path(__file__).parents[3] / "shared" / "reference" / "discord-openapi.json"
# Typed Int53 in the spec: plain numbers (option bounds, choice values), never snowflakes.
NUMBERS = {"min_value", "max_value", "value"}


def load_spec() -> dict[str, Any]:
    return json.loads(gzip.decompress(SPEC_PATH.read_bytes()))


class SpecValidator:
    """Finds the operation for a request and checks its JSON body against the spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
            self.routes.append((re.compile(f"^{pattern}$"), template))
        # Literal segments such as `@original` must win over `{message_id}`.
        self.routes.sort(key=lambda route: route[1].count("{"))
        self._validators: dict[tuple[str, str], Draft202012Validator | None] = {}

    @classmethod
    @functools.cache
    def shared(cls) -> SpecValidator:
        """One validator per process."""
        spec = load_spec()
        # The spec's ChannelTypes stops at GUILD_FORUM (15), but Discord takes GUILD_MEDIA (16)
        # too, and discord.py lists it in `channel_types` for a ForumChannel option.
        spec["components"]["schemas"]["ChannelTypes"]["oneOf"].append(
            {"title": "GUILD_MEDIA", "const": 16}
        )
        return cls(spec)

    def _validator(self, method: str, template: str) -> Draft202012Validator | None:
        key = (method, template)
        if key not in self._validators:
            operation = self.spec["paths"][template].get(method.lower()) or {}
            content = (operation.get("requestBody") or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            self._validators[key] = (
                Draft202012Validator({**schema, "components": self.spec["components"]})
                if schema
                else None
            )
        return self._validators[key]

    def validate(self, method: str, path: str, body: Any) -> list[str]:
        """Mismatches between `body` and the spec's request schema for this route."""
        path = path.removeprefix("/api/v10")
        template = next((t for pattern, t in self.routes if pattern.match(path)), None)
        if template is None:
            return [f"no such route in Discord's API: {method} {path}"]
        validator = self._validator(method, template)
        if validator is None or body in (None, {}):
            return []
        problems = []
        for problem in validator.iter_errors(_normalise(body)):
            where = problem.json_path
            problems.append(f"{where}: {problem.message[:200]}")
            if len(problems) == 3:
                break
        return problems


def _normalise(body: Any, key: str | None = None) -> Any:
    """Apply the spec notes: new attachments are referenced by integer file index, and
    snowflakes may be sent as numbers."""
    if isinstance(body, dict):
        out = {}
        for name, value in body.items():
            if name == "attachments" and isinstance(value, list):
                value = [
                    {**a, "id": str(a["id"])}
                    if isinstance(a, dict) and isinstance(a.get("id"), int)
                    else a
                    for a in value
                ]
            out[name] = _normalise(value, name)
        return out
    if isinstance(body, list):
        return [_normalise(v, key) for v in body]
    if isinstance(body, int) and not isinstance(body, bool) and body > 2**40 and key not in NUMBERS:
        # Discord takes snowflakes as JSON numbers too; the spec types them as strings.
        return str(body)
    return body
