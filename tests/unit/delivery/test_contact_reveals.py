"""Who may reveal a recipient's contact in full (docs/decisions/0035)."""

from __future__ import annotations

from delivery.services.contact_reveals import may_reveal
from delivery.staff import Role, StaffUser


def _user(user_id: str, *roles: Role) -> StaffUser:
    return StaffUser(user_id, f"u-{user_id}", "名字", frozenset(roles), ("court",))


def test_the_owning_clerk_and_supervisors_may_reveal_nobody_else() -> None:
    owner = _user("A", Role.CLERK)
    assert may_reveal(owner, "A")
    assert not may_reveal(_user("B", Role.CLERK), "A")  # another clerk of the court
    assert not may_reveal(owner, None)  # nobody owns it: reassign first (recorded)
    assert may_reveal(_user("S", Role.SUPERVISOR), "A")
    assert may_reveal(_user("S", Role.SUPERVISOR), None)
    # An administrator manages accounts; owning a dispatch's id is no clerk's role.
    assert not may_reveal(_user("A", Role.ADMIN), "A")
    assert not may_reveal(_user("A", Role.FIELD_SERVER), "A")
