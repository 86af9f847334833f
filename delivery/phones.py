"""Phone numbers as clerks and case systems type and paste them, read with ``phonenumbers``.

A recipient's phone number is only ever used for SMS (the link, a one-time code), so a number is
accepted when it can receive one: valid, and a mobile (or a number the numbering plan cannot tell
from one, ``FIXED_LINE_OR_MOBILE``, as in North America). Mainland China is the default region,
so the 11 digits an Excel cell holds (``13812345678``, ``138 1234 5678``, ``138-1234-5678``) and
the ``+86``/``0086``/``86`` spellings all become ``+8613812345678``; what is stored, compared and
sent is always E.164. A landline is refused with that reason rather than stored and left to
fail at the carrier a day later (docs/decisions/0036-phone-numbers-and-bulk-actions.md).

One function, :func:`parse_phone`, for every way in: the API's body, the new-dispatch form and a
CSV batch (all through ``dispatch_request``), and a clerk's ``add_contact``.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from templates.i18n import N_

DEFAULT_REGION = "CN"
# Longer than any number with its spaces, dashes and a 00 prefix; parsing more is pointless.
MAX_PHONE_TEXT = 40
SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# The reasons are msgids of the message catalogue (the form and a batch's report show them in
# the page's language; the API answers in English).
NOT_A_NUMBER = N_("must be a phone number, e.g. 13812345678 or +8613812345678")
NOT_VALID = N_("is not a valid phone number (check the digits and the country code)")
LANDLINE = N_("is a landline (fixed-line) number: it cannot receive SMS; give a mobile number")
NOT_MOBILE = N_("cannot receive SMS (not a mobile number); give a mobile number")


@dataclass(frozen=True)
class PhoneCheck:
    """A number's E.164 form when it can take SMS, else why not (exactly one is set)."""

    e164: str | None = None
    problem: str | None = None


def parse_phone(text: str) -> PhoneCheck:
    """``text`` read as a number for SMS: its E.164 form, or the reason it cannot be one."""
    if len(text) > MAX_PHONE_TEXT:
        return PhoneCheck(problem=NOT_A_NUMBER)
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        return PhoneCheck(problem=NOT_A_NUMBER)
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(problem=NOT_VALID)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        return PhoneCheck(problem=LANDLINE)
    if kind not in SMS_TYPES:
        return PhoneCheck(problem=NOT_MOBILE)
    return PhoneCheck(e164=phonenumbers.format_number(number, PhoneNumberFormat.E164))
