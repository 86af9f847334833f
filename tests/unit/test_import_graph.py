"""The parts' import rules (issue 13), read from the source with ``ast`` rather than by importing
it: every import counts, including those under ``if TYPE_CHECKING:`` and inside functions, since
a rule that a lazy import may dodge is no rule. An import names the module it reaches: ``from
delivery.storage import schema`` is an import of ``delivery.storage.schema``."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("delivery", "channels", "escalation", "tracking", "templates")
HANDLERS = (
    "delivery/api/*",
    "channels/*/hooks.py",
    "channels/*/pages.py",
    "channels/*/*_page.py",
    "channels/*/*_routes.py",
    "channels/*/routes.py",
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str  # path:line, for the failure message

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> dict[str, Path]:
    return {
        _module_name(path): path for part in PARTS for path in sorted((ROOT / part).rglob("*.py"))
    }


FILES = _files()


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # ``from package import module`` reaches the module; ``from module import name`` the module.
    reached = [f"{base}.{a.name}" if f"{base}.{a.name}" in FILES else base for a in node.names]
    return list(dict.fromkeys(reached))


def _imports() -> list[Import]:
    found = []
    for module, path in FILES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found += [
                    Import(module, target, where)
                    for target in _targets(node, module, path)
                    if target in FILES and target != module
                ]
    return found


IMPORTS = _imports()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _channel(module: str) -> str | None:
    """The method (or other subpackage) of a ``channels.<method>...`` module."""
    parts = module.split(".")
    return parts[1] if parts[0] == "channels" and len(parts) > 1 else None


def _is_handler(module: str) -> bool:
    path = FILES[module].relative_to(ROOT).as_posix()
    return any(fnmatch(path, pattern) for pattern in HANDLERS)


def _cycle() -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    edges: dict[str, set[str]] = {module: set() for module in FILES}
    for imp in IMPORTS:
        edges[imp.importer].add(imp.imported)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(edges[module]):
            cycle = visit(target, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(edges):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def _report(broken: list[Import]) -> str:
    return "\n".join(str(imp) for imp in broken)


def test_the_graph_is_read() -> None:
    """The rules below pass vacuously on an empty graph: make sure the reading works."""
    assert "delivery.domain" in FILES and "channels.email.adapter" in FILES
    assert any(imp.imported == "delivery.domain" for imp in IMPORTS)


def test_no_module_imports_itself_back() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_a_channel_imports_no_other_channel() -> None:
    broken = [
        imp
        for imp in IMPORTS
        if _channel(imp.importer) not in (None, "registry")
        and _channel(imp.imported) not in (None, _channel(imp.importer))
    ]
    assert not broken, _report(broken)


def test_escalation_imports_no_channel() -> None:
    broken = [
        imp
        for imp in IMPORTS
        if _within(imp.importer, "escalation") and _within(imp.imported, "channels")
    ]
    assert not broken, _report(broken)


def test_tracking_and_templates_import_no_channel_and_no_api() -> None:
    broken = [
        imp
        for imp in IMPORTS
        if (_within(imp.importer, "tracking") or _within(imp.importer, "templates"))
        and (_within(imp.imported, "channels") or _within(imp.imported, "delivery.api"))
    ]
    assert not broken, _report(broken)


def test_no_handler_reads_the_schema() -> None:
    broken = [
        imp
        for imp in IMPORTS
        if _is_handler(imp.importer) and imp.imported == "delivery.storage.schema"
    ]
    assert not broken, _report(broken)


def test_no_test_module_imports_another() -> None:
    """Tests share code through support modules (helpers, builders, support.py), never by
    importing another test module: that would tie unrelated files and collect tests twice."""
    tests = ROOT / "tests"
    paths = sorted(tests.rglob("test_*.py"))
    ours = {p.stem for p in paths} | {
        ".".join(p.relative_to(tests).with_suffix("").parts) for p in paths
    }
    broken = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            broken += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if name in ours or name.removeprefix("tests.") in ours
            ]
    assert broken == [], "\n".join(broken)
