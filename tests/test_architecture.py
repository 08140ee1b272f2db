"""The core under bot/ stays free of discord.py; only cogs/ and the composition root use it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
# The composition root: the Bot subclass and the entry point that starts it.
ALLOWED = {ROOT / "bot" / "app.py"}


def _discord_imports(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "discord" or name.startswith("discord.") for name in names):
            lines.append(node.lineno)
    return lines


def test_core_does_not_import_discord() -> None:
    """No module under bot/ except the composition root imports discord.py."""
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "bot").rglob("*.py"))
        if path not in ALLOWED and (lines := _discord_imports(path))
    }
    assert offenders == {}
