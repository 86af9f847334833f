"""The dispatch page (read side): everything a clerk reads about one dispatch, in one place.

The dispatch with its documents, attempts and events (``queries.dispatch_detail``), plus what
the page adds: who each event's actor is by name, the owner, the policy's ladder, whether a
``dispatch_at_risk`` flag stands, the court's clerks (to reassign the dispatch to) and the audit
of who revealed which contact in full (``contact_reveals``, docs/decisions/0035).
"""

from __future__ import annotations

from dataclasses import dataclass

from delivery.context import Context
from delivery.domain import Event
from delivery.services import ownership
from delivery.services.certificates import actor_names
from delivery.services.clerk_queue import AT_RISK_EVENT
from delivery.staff import Role, StaffUser
from delivery.storage import contact_reveals, queries, staff
from delivery.storage.contact_reveals import ContactReveal
from delivery.storage.engine import READ_ONLY, Connection
from delivery.vocabulary import EventType
from escalation.policy import Policy


@dataclass(frozen=True)
class DispatchView:
    detail: queries.DispatchDetail
    names: dict[str, str]  # actor ("staff:<id>", "api_key:<id>") → display name
    # A staff actor ("staff:<id>") → the role the timeline names them by (a supervisor's action
    # is not a clerk's, though both come from the workspace: source "clerk").
    roles: dict[str, Role]
    owner_name: str | None
    policy: Policy
    at_risk: bool
    # The carrier contradicted its own SMS delivery report: a clerk should check the service
    # (it stands until a rebuttal is recorded, docs/decisions/0023).
    receipt_contradicted: bool
    clerks: list[StaffUser]  # the court's clerks, by name (reassign_owner chooses among them)
    other_policies: frozenset[str]  # what change_policy may choose
    reveals: list[ContactReveal]  # who showed which contact in full, oldest first


async def in_scope(ctx: Context, dispatch_id: str, courts: tuple[str, ...]) -> bool:
    """Whether the dispatch exists in one of ``courts`` (else it does not exist for them)."""
    return await queries.dispatch_in_courts(ctx.engine, dispatch_id, courts)


async def clerks_of(conn: Connection, courts: tuple[str, ...]) -> list[StaffUser]:
    """The active clerks of any of ``courts``, by name (the queue's clerk filter)."""
    found = await ownership.court_clerks(conn, *courts)
    return sorted(found, key=lambda u: (u.display_name, u.username))


# The role a staff account acts in, first match: someone who is both acted as the senior one.
ACTING_ROLES = (Role.SUPERVISOR, Role.CLERK, Role.FIELD_SERVER, Role.ADMIN)


async def _actor_roles(conn: Connection, events: list[Event]) -> dict[str, Role]:
    """The role each staff actor of ``events`` is named by on the timeline."""
    actors = {e.actor for e in events if e.actor is not None}
    ids = sorted(a.removeprefix("staff:") for a in actors if a.startswith("staff:"))
    found = await staff.roles_of(conn, ids) if ids else {}
    return {
        f"staff:{staff_id}": next(r for r in ACTING_ROLES if r in roles)
        for staff_id, roles in found.items()
        if roles
    }


async def dispatch_view(
    ctx: Context, dispatch_id: str, courts: tuple[str, ...]
) -> DispatchView | None:
    """The dispatch's page, or ``None`` when it is not in ``courts``."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        detail = await queries.dispatch_detail(conn, dispatch_id, courts)
        if detail is None:
            return None
        d = detail.dispatch
        names = await actor_names(conn, detail.events)
        roles = await _actor_roles(conn, detail.events)
        owner_name = None
        if d.owner_id is not None:
            owner_name = await staff.display_name(conn, d.owner_id)
        clerks = await clerks_of(conn, (d.court,))
        reveals = await contact_reveals.reveals_of_dispatch(conn, dispatch_id)
    return DispatchView(
        detail=detail,
        names=names,
        roles=roles,
        owner_name=owner_name,
        policy=ctx.policies.get(d.policy, d.court),
        at_risk=d.is_open and any(e.type == AT_RISK_EVENT for e in detail.events),
        receipt_contradicted=any(
            e.type == EventType.SMS_RECEIPT_CONTRADICTED for e in detail.events
        ),
        clerks=clerks,
        other_policies=ctx.policies.names_for(d.court) - {d.policy},
        reveals=reveals,
    )
