"""Sortable unique identifiers (ULID) for everything that appears in a URL."""

from ulid import ULID


def new_id() -> str:
    """A new ULID as its 26-character Crockford base32 text."""
    return str(ULID())


def looks_like_id(value: str) -> bool:
    """True when ``value`` has the shape of an id, so junk never reaches a query."""
    if len(value) != 26:
        return False
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True
