"""The court's own channels: in person (a field task) and public notice (a notice to approve).

They have no provider to talk to. "Sending" one of their attempts opens the court's own work
item — a task on a field server's list, a notice draft awaiting a supervisor — in the same
transaction that reads the attempt, and the attempt then waits for the person's recorded act.
An opener may run twice (jobs are at-least-once): it must notice its work item already exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from channels.in_person.tasks import open_task as open_field_task
from channels.public_notice.notices import open_notice
from delivery.context import Context
from delivery.domain import Attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel
from escalation.policy import NOTICE_CHANNEL

Opener = Callable[[Context, DispatchTransaction, Attempt], Awaitable[None]]

COURT_CHANNELS: dict[str, Opener] = {
    # In person: a field task on a field server's list (channels/in_person/tasks.py).
    Channel.IN_PERSON: open_field_task,
    # Public notice: a draft awaiting a supervisor's approval (channels/public_notice/notices.py).
    NOTICE_CHANNEL: open_notice,
}
