"""``among(column, ids)``: ``column IN ids`` for a long list of ids, as one bound parameter.

The clerk's queue read the facts of up to 2,000 dispatches at once, one statement per kind of
fact (delivery/services/clerk_queue.py; since decision 0058 only its page's rows).
``column.in_(ids)`` renders one bound parameter per id when each statement runs: at 2,000 ids
that rendering cost more Python time than the database took to answer (docs/decisions/0054).
PostgreSQL takes the list as one array (``= ANY($1::VARCHAR[])``), SQLite as one JSON text it
reads with ``json_each``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

POSTGRESQL = "postgresql"


class IdList(sa.types.TypeDecorator[list[str]]):
    """A list of ids as one parameter: an array on PostgreSQL, JSON text elsewhere."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == POSTGRESQL:
            return dialect.type_descriptor(postgresql.ARRAY(sa.String()))
        return dialect.type_descriptor(sa.String())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        return value if dialect.name == POSTGRESQL else json.dumps(value)


class among(FunctionElement[bool]):
    """True where ``column`` is one of ``ids``."""

    type = sa.Boolean()
    inherit_cache = True
    name = "among"

    def __init__(self, column: sa.ColumnElement[Any], ids: Sequence[str]) -> None:
        super().__init__(column, sa.bindparam(None, list(ids), type_=IdList()))


def _arguments(element: among, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, ids = element.clauses
    return compiler.process(column, **kw), compiler.process(ids, **kw)


@compiles(among, POSTGRESQL)
def _postgresql(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = _arguments(element, compiler, **kw)
    return f"{column} = ANY({ids})"


@compiles(among, "sqlite")
def _sqlite(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = _arguments(element, compiler, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"
