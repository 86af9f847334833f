"""How a recipient reaches the court: its phone, address and office hours, from the settings.

The recipient's pages show them as the court wrote them; ``songda config check`` and the start-up
say which are unset (docs/decisions/0037-recipient-page.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from delivery import config_checks as checks
from templates.texts import Text, wording


@dataclass(frozen=True)
class CourtContact:
    """How a recipient reaches the court (SONGDA_COURT_PHONE, SONGDA_COURT_ADDRESS,
    SONGDA_COURT_HOURS): shown on the recipient's pages as the court wrote it, in its own words,
    because a person served by a link must be able to call or visit without trusting the link."""

    phone: str | None = None
    address: str | None = None
    hours: str | None = None

    @property
    def dial(self) -> str | None:
        """The phone number as a ``tel:`` link dials it: digits and a leading ``+`` only."""
        if self.phone is None:
            return None
        digits = "".join(c for c in self.phone if c.isdigit() and c.isascii())
        if not digits:
            return None
        return ("+" if self.phone.lstrip().startswith("+") else "") + digits

    @property
    def missing(self) -> tuple[str, ...]:
        """The settings left unset, by variable name."""
        named = (
            ("SONGDA_COURT_PHONE", self.phone),
            ("SONGDA_COURT_ADDRESS", self.address),
            ("SONGDA_COURT_HOURS", self.hours),
        )
        return tuple(name for name, value in named if value is None)


# The sandbox court's contact: plainly not a real number or place.
SANDBOX_CONTACT = CourtContact(
    phone="0000-00000000（沙箱示例）",
    address="沙箱市示例区示例路 1 号（沙箱示例）",
    hours="周一至周五 9:00–12:00、13:30–17:30（沙箱示例）",
)


def court_contact(r: checks.Reader, sandbox: bool) -> CourtContact:
    """The court's phone, address and office hours; the sandbox's example values where unset."""
    fallback = SANDBOX_CONTACT if sandbox else CourtContact()
    return CourtContact(
        phone=r.text("COURT_PHONE", fallback.phone),
        address=r.text("COURT_ADDRESS", fallback.address),
        hours=r.text("COURT_HOURS", fallback.hours),
    )


def court_contact_advice(contact: CourtContact) -> list[Text]:
    """Unset court contact settings: the recipient's page then cannot say how to reach the court."""
    if not contact.missing:
        return []
    return [
        wording(
            "%(settings)s unset: recipients' pages give no court %(details)s (docs/decisions/0037)",
            settings=", ".join(contact.missing),
            details=" or ".join(n.removeprefix("SONGDA_COURT_").lower() for n in contact.missing),
        )
    ]
