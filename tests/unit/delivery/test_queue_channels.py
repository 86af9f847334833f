"""The queue's channel column (issue 14: blank for some served rows): a served dispatch names the
channel that served it, whatever its attempts' states; an open one, its open attempts'."""

from __future__ import annotations

from delivery.domain import DispatchState
from delivery.services.clerk_queue import OpenAttempt, QueueRow
from unit.builders import a_dispatch


def test_a_served_dispatch_names_the_channel_that_served_it() -> None:
    # Served by reading the e-mail (court_found, OLR-31): the attempt is ``read``, closed.
    read = QueueRow(a_dispatch(state=DispatchState.SERVED, served_by_channel="email"))
    assert read.channels == ["email"]
    # The SMS sent beside it is still open, but it is not what served.
    both = QueueRow(
        a_dispatch(state=DispatchState.SERVED, served_by_channel="email"),
        open_attempts=[OpenAttempt("sms", "sent", None)],
    )
    assert both.channels == ["email"]


def test_an_open_dispatch_names_its_open_attempts_once_each() -> None:
    row = QueueRow(
        a_dispatch(),
        open_attempts=[
            OpenAttempt("email", "sent", None),
            OpenAttempt("sms", "sent", None),
            OpenAttempt("email", "sent", None),
        ],
    )
    assert row.channels == ["email", "sms"]
    assert QueueRow(a_dispatch(state=DispatchState.FAILED)).channels == []
