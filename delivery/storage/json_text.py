"""``json_text(column, key)``: one top-level field of a JSON text column, as text, in SQL.

Events keep their data as JSON text (the hash chain covers the exact text). Reports read a few
fields of many events; extracting them in the database sends back a few short strings per row
instead of whole payloads to parse in Python. PostgreSQL and SQLite spell it differently.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class json_text(FunctionElement[str]):
    """The value of ``key`` in the JSON object held by a text column (NULL when absent)."""

    type = sa.String()
    inherit_cache = True
    name = "json_text"

    def __init__(self, column: sa.ColumnElement[Any], key: str) -> None:
        super().__init__(column, sa.literal(key, sa.String()))


def _arguments(element: json_text, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, key = element.clauses
    return compiler.process(column, **kw), compiler.process(key, **kw)


@compiles(json_text, "postgresql")
def _postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _arguments(element, compiler, **kw)
    # jsonb: parsed once (a json value is validated, then parsed again by ->>).
    return f"(CAST({column} AS JSONB) ->> {key})"


@compiles(json_text, "sqlite")
def _sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = _arguments(element, compiler, **kw)
    # Numbers come back as numbers here (text on PostgreSQL): callers convert.
    return f"json_extract({column}, '$.' || {key})"
