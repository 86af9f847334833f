"""Which reply answers which e-mail, and which is automatic (RFC 3834 and its common kin)."""

from __future__ import annotations

import pytest

from channels.email.replies import automatic_because, parse, referenced_ids


def _message(*headers: str, content_type: str = "text/plain") -> bytes:
    lines = ["From: a@example.com", f"Content-Type: {content_type}", *headers, "", "body"]
    return "\r\n".join(lines).encode()


def test_in_reply_to_first_then_references_from_the_last() -> None:
    message = parse(_message("In-Reply-To: <b@x>", "References: <a@x> <c@x>\r\n <b@x> <d@x>"))
    assert referenced_ids(message) == ["<b@x>", "<d@x>", "<c@x>", "<a@x>"]


def test_no_reference_answers_nothing() -> None:
    assert referenced_ids(parse(_message("In-Reply-To: garbage"))) == []


@pytest.mark.parametrize(
    ("headers", "content_type", "because"),
    [
        (["Auto-Submitted: auto-replied"], "text/plain", "Auto-Submitted: auto-replied"),
        (
            ["Auto-Submitted: Auto-Generated; owner-email=x"],
            "text/plain",
            "Auto-Submitted: auto-generated",
        ),
        (["X-Autoreply: yes"], "text/plain", "X-Autoreply"),
        (["X-Autorespond: on"], "text/plain", "X-Autorespond"),
        (["Precedence: bulk"], "text/plain", "Precedence: bulk"),
        (["Precedence: auto_reply"], "text/plain", "Precedence: auto_reply"),
        ([], 'multipart/report; report-type=delivery-status; boundary="b"', "multipart/report"),
    ],
)
def test_automatic_replies_say_so(headers: list[str], content_type: str, because: str) -> None:
    assert automatic_because(parse(_message(*headers, content_type=content_type))) == because


@pytest.mark.parametrize("headers", [[], ["Auto-Submitted: no"], ["Precedence: normal"]])
def test_a_persons_reply_is_not_automatic(headers: list[str]) -> None:
    assert automatic_because(parse(_message(*headers))) is None
