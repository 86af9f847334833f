"""What ``/account`` shows: the account's own roles and courts and, to an administrator, the
accounts of the courts they administer — read-only.

Accounts are created and disabled with ``songda user`` on the command line; there is no page
that changes them (docs/decisions/0038-front-door-and-landings.md). The list is the
administrator's landing page, so it exists to answer "who may log in here, with which roles?"
without a terminal. Court scope holds as everywhere: an account sharing none of the
administrator's courts is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from delivery.services.staff_accounts import list_staff_users
from delivery.staff import Role, StaffUser
from delivery.storage.engine import Engine
from templates.labels import label


@dataclass(frozen=True)
class AccountLine:
    """One row of the administrator's list: no password hash, no session."""

    username: str
    display_name: str
    role_names: list[str]
    courts: tuple[str, ...]
    disabled_at: datetime | None


def role_names(user: StaffUser, locale: str) -> list[str]:
    """The account's roles in ``locale``, in the order of :class:`Role`."""
    return [label(locale, "staff_role", r) for r in Role if user.has(r)]


async def account_context(engine: Engine, user: StaffUser, locale: str) -> dict[str, Any]:
    """The page's context: the account's role names and, for an administrator, ``accounts``."""
    accounts: list[AccountLine] = []
    if user.has(Role.ADMIN):
        accounts = [
            AccountLine(
                other.username,
                other.display_name,
                role_names(other, locale),
                tuple(c for c in other.courts if user.sees(c)),
                state["disabled_at"],
            )
            for other, state in await list_staff_users(engine)
            if any(user.sees(c) for c in other.courts)
        ]
    return {"role_names": role_names(user, locale), "accounts": accounts}
