"""Storage per entity (issue 13): application services, channels and route handlers call
delivery/storage's functions; they build no SQL, so they import neither the tables
(``delivery.storage.schema``) nor SQLAlchemy.

The same holds for the jobs and the pure parts (escalation, tracking, templates). Only
``delivery/storage`` speaks SQL; ``delivery/context.py`` holds the engine and
``delivery/infra/outages.py`` tells SQLAlchemy's connection errors from bugs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (
    "delivery/services",
    "delivery/api",
    "delivery/jobs",
    "channels",
    "escalation",
    "tracking",
    "templates",
)
FORBIDDEN = ("delivery.storage.schema", "sqlalchemy")


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def forbidden_imports(path: Path) -> list[str]:
    imported = imported_modules(ast.parse(path.read_text(encoding="utf-8")))
    return [f for f in FORBIDDEN if any(n == f or n.startswith(f + ".") for n in imported)]


def layer_modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def test_services_channels_and_handlers_build_no_sql() -> None:
    offenders = {
        str(p.relative_to(ROOT)): names for p in layer_modules() if (names := forbidden_imports(p))
    }
    assert offenders == {}


def test_the_check_sees_a_schema_import() -> None:
    tree = ast.parse("from delivery.storage import schema\nimport sqlalchemy as sa\n")
    assert imported_modules(tree) >= {"delivery.storage.schema", "sqlalchemy"}
