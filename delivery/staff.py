"""Staff accounts as the rest of the code sees them: who, which roles, which courts.

Roles (design.md "Who uses it"): a ``clerk`` queues and follows dispatches and acts on them; a
``supervisor`` (judge) also approves public notice; a ``field_server`` serves in person and sees
only their own tasks; an ``admin`` manages accounts. Accounts are scoped to courts like API keys:
another court's dispatch does not exist for them (404, not 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    FIELD_SERVER = "field_server"
    ADMIN = "admin"


@dataclass(frozen=True)
class StaffUser:
    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    courts: tuple[str, ...]

    def has(self, role: Role) -> bool:
        return role in self.roles

    def sees(self, court: str) -> bool:
        return court in self.courts

    @property
    def actor(self) -> str:
        """How events name this account (``actor`` column): stable, and no personal data."""
        return f"staff:{self.id}"
