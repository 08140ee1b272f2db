"""Finds member-facing strings that bypass the catalogs.

In a file that belongs to a catalog domain (bot/locales/__init__.py: the parts members read),
every string literal with words in it ("two words" or more) must sit inside `t()`, `tn()` or
`_T()`, unless it is a docstring, a log or exception message, a value for admins or code
(`detail=`, `admin_detail=`, `custom_id=`…), or its line says `# i18n: not shown` with why.
A sentence anywhere else is a sentence a member could read in English only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

MARKERS = frozenset({"t", "tn", "_T", "locale_str"})
# Calls whose strings are for logs, developers or the machine.
NOT_SHOWN_CALLS = frozenset(
    {
        "debug",
        "info",
        "warning",
        "error",
        "exception",
        "critical",
        "getLogger",
        "compile",
        "TypeVar",
        "Field",
        "startswith",
        "endswith",
        "split",
        "partition",
        "rpartition",
        "replace",
    }
)
NOT_SHOWN_KEYWORDS = frozenset(
    {"detail", "admin_detail", "custom_id", "description_localizations", "audit"}
)
PRAGMA = "i18n: not shown"
# Two words apart: "Try again" and "used all " are sentences, "cogs.meta" and "timed_out" not.
_SENTENCE = re.compile(r"[A-Za-z]{2,}[^A-Za-z{}\s]*\s+[^A-Za-z{}\s]*[A-Za-z]{2,}")
_FRAGMENT = re.compile(r"[A-Za-z]{2,}\s|\s[A-Za-z]{2,}")


@dataclass(frozen=True)
class Bypass:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text[:80]!r}"


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _exempt(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are not for members."""
    exempt: set[int] = set()

    def all_of(node: ast.AST) -> None:
        exempt.update(id(sub) for sub in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            exempt.add(id(body[0].value))
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in MARKERS or name in NOT_SHOWN_CALLS or name.endswith(("Error", "Exception")):
                all_of(node)
            for keyword in node.keywords:
                if keyword.arg in NOT_SHOWN_KEYWORDS:
                    all_of(keyword.value)
        elif isinstance(node, ast.Raise) and node.exc is not None:
            all_of(node.exc)
        elif isinstance(node, ast.Assert):
            all_of(node)
    return exempt


def bypasses(path: Path, root: Path) -> list[Bypass]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    exempt = _exempt(tree)
    rel = path.relative_to(root).as_posix()
    found: list[Bypass] = []
    # In an f-string a single word beside a value is prose too: f"{n} images".
    fragments = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
        if any(isinstance(v, ast.FormattedValue) for v in node.values)
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        pattern = _FRAGMENT if id(node) in fragments else _SENTENCE
        if id(node) in exempt or not pattern.search(node.value):
            continue
        span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
        if any(PRAGMA in line for line in span):
            continue
        found.append(Bypass(rel, node.lineno, node.value))
    return found
