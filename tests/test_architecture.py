"""The layering, enforced: the core under bot/ knows neither discord.py nor the Discord side,
nothing imports in a circle, and every interaction handler takes the one error path."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

from discord import ui

import cogs
from cogs import _errors

ROOT = Path(__file__).parent.parent
PACKAGES = ("app", "bot", "cogs")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts or path.name == "__init__.py"
    }


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules `path` imports at load time, type-checking imports included (they tie the
    modules together just as much); imports inside functions are left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` and the like
            nodes.extend(node.body + node.orelse)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _sources()
    return {
        name: {m for m in _imports(path, modules) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_core_imports_neither_discord_nor_the_discord_side() -> None:
    """No module under bot/ imports discord.py, cogs/ or the composition root (app/)."""
    modules = _sources()
    offenders = {
        name: sorted(
            m for m in _imports(path, modules) if m.split(".")[0] in ("discord", "cogs", "app")
        )
        for name, path in modules.items()
        if name.startswith("bot")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_composition_root_is_imported_from_cogs_for_types() -> None:
    """cogs/ may name the bot's type (app.bot.FluxBot) but never runs the root's code."""
    graph = _graph()
    uses = {
        name: sorted(m for m in found if m.startswith("app") and m != "app.bot")
        for name, found in graph.items()
        if name.startswith("cogs")
    }
    assert {name: found for name, found in uses.items() if found} == {}


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_source_file_is_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for package in ("bot", "cogs")
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


def _cog_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(cogs.__path__, "cogs."):
        module = importlib.import_module(info.name)
        found += [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__
        ]
    return found


def test_every_button_select_and_modal_takes_the_one_error_path() -> None:
    """Dynamic items guard their callback (discord.py only logs what those raise); views
    and modals come from the error path's base classes."""
    unguarded = []
    for cls in _cog_classes():
        if issubclass(cls, ui.DynamicItem) and not getattr(cls.callback, "__guarded__", False):
            unguarded.append(cls.__qualname__)
        if issubclass(cls, ui.Modal) and not issubclass(cls, _errors.Modal):
            unguarded.append(cls.__qualname__)
        if issubclass(cls, ui.View) and not issubclass(cls, _errors.View):
            unguarded.append(cls.__qualname__)
    assert unguarded == []


def test_views_are_built_from_the_guarded_base() -> None:
    """`ui.View(...)` itself would fall back to discord.py's log-only error handler."""
    offenders = []
    for path in (ROOT / "cogs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("View", "Modal")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ui"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
