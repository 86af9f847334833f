"""``json_text(column, key)``: one top-level field of a JSON text column, as text, in SQL.

Events keep their data as JSON text (the hash chain covers the exact text). Reports read a few
fields of many events; extracting them in the database sends back a few short strings per row
instead of whole payloads to parse in Python. PostgreSQL and SQLite spell it differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
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


def json_fields(
    column: sa.ColumnElement[Any], names: Sequence[str], dialect: str
) -> tuple[sa.FromClause | None, dict[str, sa.ColumnElement[Any]]]:
    """Several top-level fields of a JSON text column, as text, parsing the document once a
    row where the database allows it: on PostgreSQL a ``jsonb_to_record`` to join (returned
    first; a function in FROM may read the tables joined before it), elsewhere one
    :class:`json_text` per field (and no join)."""
    if dialect != "postgresql":
        return None, {name: json_text(column, name) for name in names}
    record = (
        sa.func.jsonb_to_record(sa.cast(column, JSONB))
        .table_valued(*(sa.column(name, sa.Text()) for name in names))
        .render_derived(name="fields", with_types=True)
    )
    return record, {name: record.c[name] for name in names}
