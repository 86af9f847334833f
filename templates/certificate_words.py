"""The proof of service's own words, from the message catalogue (templates/pdf/certificate.html).

- :data:`FACTS`: the names of the facts a channel's section lists (``Line.label`` in
  tracking/proof_sections.py), msgids with the context ``proof_fact``;
- :func:`fact_value`: a fact whose value is itself a code (a relation, a return reason, a place)
  reads from the label table of its kind (templates/labels.py);
- :func:`reading`: the legal reading of the completing rule. The evidence chain keeps it as the
  rule wrote it (English, in ``dispatch_served``: hashed, never rewritten); the certificate shows
  it in the reader's language, its codes by their labels. A reading no pattern knows (a rule
  added later without its words here) shows as recorded.
"""

from __future__ import annotations

import re

from templates.i18n import N_, ptranslate, translate
from templates.labels import L_, has_label, label
from tracking.proof_sections import Line

FACT = "proof_fact"
FACTS: dict[str, str] = {
    "accepted_by_mail_server": L_("proof_fact", "accepted by the court's mail server"),
    "message_id": L_("proof_fact", "Message-ID"),
    "read_after_identity_check": L_("proof_fact", "read after the identity check"),
    "sent": L_("proof_fact", "sent"),
    "bounced": L_("proof_fact", "bounced"),
    "sms_delivered": L_("proof_fact", "carrier: delivered"),
    "reply_received": L_("proof_fact", "the recipient replied"),
    "auto_reply_received": L_("proof_fact", "automatic reply (not service)"),
    "other_reply_received": L_(
        "proof_fact", "reply to an identity code or address confirmation request (not service)"
    ),
    "tracking_number": L_("proof_fact", "tracking number"),
    "receipt_date": L_("proof_fact", "receipt date"),
    "signed_by": L_("proof_fact", "signed by"),
    "relation": L_("proof_fact", "relation to the recipient"),
    "signer_id_last4": L_("proof_fact", "signer's ID, last 4"),
    "refused_on": L_("proof_fact", "refused on"),
    "refused_by": L_("proof_fact", "refused by"),
    "returned_on": L_("proof_fact", "returned on"),
    "return_reason": L_("proof_fact", "return reason"),
    "return_card_sha256": L_("proof_fact", "return card scan SHA-256"),
    "visited_at": L_("proof_fact", "visited at"),
    "visit_outcome": L_("proof_fact", "visit outcome"),
    "field_server": L_("proof_fact", "field server"),
    "receiver_name": L_("proof_fact", "received by"),
    "refusal_place": L_("proof_fact", "place of refusal"),
    "witness": L_("proof_fact", "witness"),
    "media_sha256": L_("proof_fact", "photo/video SHA-256"),
    "signature_sha256": L_("proof_fact", "signature SHA-256"),
    "notice_reason": L_("proof_fact", "reason for notice"),
    "approved_by": L_("proof_fact", "approved by"),
    "method_tried": L_("proof_fact", "method tried"),
    "publication": L_("proof_fact", "published"),
    "first_publication": L_("proof_fact", "first publication"),
    "last_publication": L_("proof_fact", "last publication"),
    "notice_period_days": L_("proof_fact", "notice period (days)"),
    "deemed_date": L_("proof_fact", "deemed served on"),
    "proof_signed": L_("proof_fact", "proof of service signed"),
    "attachment_sha256": L_("proof_fact", "signed proof scan SHA-256"),
    "proof_written_date": L_("proof_fact", "date written on the proof by the recipient"),
    "proof_recorded_at": L_("proof_fact", "recorded by the clerk at"),
}
# The label table a coded fact value reads from, by the fact's name.
VALUE_TABLES = {
    "relation": "relation",
    "refused_by": "relation",
    "return_reason": "reason",
    "visit_outcome": "visit_outcome",
    "refusal_place": "refusal_place",
    "notice_reason": "reason",
    "publication": "notice_place",
}


def fact_label(locale: str, name: str) -> str:
    msgid = FACTS.get(name)
    return name if msgid is None else ptranslate(locale, FACT, msgid)


def fact_value(locale: str, line: Line) -> str:
    """The value of ``line`` as a person reads it: coded values by their label (a publication
    is ``place|time``; a visit outcome is recorded as its event type, ``visit_<outcome>``)."""
    if not line.term:
        return line.value
    code, _, when = line.value.partition("|")
    code = code.removeprefix("visit_") if line.label == "visit_outcome" else code
    named = label(locale, VALUE_TABLES.get(line.label, "reason"), code)
    return f"{named} · {when}" if when else named


# The readings escalation/rules.py records, as msgids: ``%(name)s`` stands for a value, read from
# the label table named beside it (None: shown as it is, a number of days).
READINGS: list[tuple[str, dict[str, str | None]]] = [
    (N_("recipient-confirmed address; accepted by the court's mail server (CPL-INT-135)"), {}),
    (N_("recipient-confirmed number; carrier: delivered"), {}),
    (N_("%(source)s address; read after the identity check"), {"source": "source"}),
    (N_("%(source)s address; recipient replied"), {"source": "source"}),
    (N_("proof of service signed by the recipient"), {}),
    (N_("handed to: %(relation)s"), {"relation": "relation"}),
    (N_("refused to sign; recorded"), {}),
    (N_("left at the residence after a refusal"), {}),
    (N_("return receipt signed by: %(relation)s"), {"relation": "relation"}),
    (N_("returned: %(status)s"), {"status": "carrier_status"}),
    (N_("public notice, %(days)s days"), {"days": None}),
    (N_("public notice abroad, %(days)s days"), {"days": None}),
    (N_("posted abroad, no receipt in 3 months"), {}),
    (N_("e-mail service complete on sending"), {}),
    (N_("mail service complete on mailing"), {}),
]


def _pattern(msgid: str) -> re.Pattern[str]:
    """The msgid as the reading it matches: each ``%(name)s`` a word (a code or a number)."""
    return re.compile(re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>[\\w-]+)", re.escape(msgid)))


_READINGS = [(_pattern(msgid), msgid, tables) for msgid, tables in READINGS]


def reading(locale: str, recorded: str) -> str:
    """The recorded reading of a rule in ``locale``."""
    for pattern, msgid, tables in _READINGS:
        match = pattern.fullmatch(recorded)
        if match is None:
            continue
        values = match.groupdict()
        if all(t is None or has_label(t, values[name]) for name, t in tables.items()):
            params = {
                name: values[name] if t is None else label(locale, t, values[name])
                for name, t in tables.items()
            }
            return translate(locale, msgid, **params)
    return recorded
