"""`python -m bot.locales extract|update|compile|init LANG`: see bot/locales/__init__.py."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bot.locales import DOMAINS, CatalogError, compile_all, extract, init, update
from bot.locales import __doc__ as usage


def main(argv: list[str]) -> int:
    commands: dict[str, Callable[..., None]] = {
        "extract": extract,
        "update": update,
        "compile": compile_all,
    }
    if len(argv) == 2 and argv[0] == "init":
        init(argv[1])
        return 0
    unknown = [name for name in argv[1:] if name not in DOMAINS]
    if not argv or argv[0] not in commands or unknown:
        print(usage, file=sys.stderr)
        return 2
    try:
        commands[argv[0]](*argv[1:])
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


raise SystemExit(main(sys.argv[1:]))
