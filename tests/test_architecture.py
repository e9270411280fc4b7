"""The structure that keeps features small: the import graph of ``bot/`` and ``handlers/`` has no
cycle, and the conversation core and the features import no platform SDK.

The graph is computed here from the source (``ast``), counting every import: at the top, inside
functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")
# The channel-neutral core: what a turn runs through, and the ports the adapters implement.
CORE = ("bot/app.py", "bot/routing.py", "bot/messages.py", "bot/ports.py", "bot/pressure.py",
        "bot/matching.py", "bot/text.py", "bot/lexicon.py", "bot/intents.py", "bot/render.py",
        "bot/content/", "bot/storage/", "bot/config.py", "bot/metrics.py", "bot/clock.py")
PLATFORM_SDKS = ("aiohttp", "telegram", "bot.channels", "bot.server", "bot.webchat", "bot.http",
                 "bot.dashboard")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module ``path`` imports, as the dotted names it uses (``from a import b`` is ``a.b``
    when ``a.b`` is a module, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for target in imported(path, known):
            while target and target not in known:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_code() -> None:
    edges = graph()
    assert "bot.routing" in edges["bot.app"]
    assert "handlers" in edges["bot.root"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_bot_and_handlers_import_each_other_in_no_cycle() -> None:
    assert cycles(graph()) == []


def _is_core(path: Path) -> bool:
    relative = path.relative_to(ROOT).as_posix()
    return relative.startswith("handlers/") or any(
        relative == c or (c.endswith("/") and relative.startswith(c)) for c in CORE)


def test_the_core_and_the_features_import_no_platform_sdk() -> None:
    known = modules()
    leaks = {
        module_name(path): sorted(i for i in imported(path, known)
                                  if any(i == sdk or i.startswith(sdk + ".") for sdk in PLATFORM_SDKS))
        for path in known.values() if _is_core(path)
    }
    assert {name: found for name, found in leaks.items() if found} == {}
