"""Labels of the codes that rules and the outside world write: reasons, relations, places,
carrier statuses, periods, legal bases, policies, and the report's groupings.

templates/labels.py adds them to the labels of the vocabulary's enums; see its docstring.
"""

from __future__ import annotations

from templates.i18n import L_

REASON_LABELS: dict[str, dict[str, str]] = {
    # Why something happened, as stored in an attempt's or dispatch's reason and in events'
    # ``reason`` (templates/reasons.py reads compound reasons such as ``returned: moved``).
    "reason": {
        "no_e_service_consent": L_("reason", "no consent to electronic service"),
        "no_address": L_("reason", "no address for this step"),
        "skipped_by_clerk": L_("reason", "skipped by hand"),
        "named": L_("reason", "named by the case system"),
        "case": L_("reason", "owner of the same case"),
        "round_robin": L_("reason", "assigned in turn"),
        "none": L_("reason", "no clerk to assign"),
        "exhausted": L_("reason", "every step ended without service"),
        "requires_ordinary_procedure": L_(
            "reason", "public notice needs the ordinary procedure (CPL-INT-140)"
        ),
        "channel_unavailable": L_("reason", "channel not available"),
        "dispatch_cancelled": L_("reason", "dispatch cancelled"),
        "cancelled_by_case_system": L_("reason", "cancelled by the case system"),
        "service_completed": L_("reason", "service completed on another attempt"),
        "window_elapsed": L_("reason", "the step's window ended"),
        "escalated_by_clerk": L_("reason", "escalated by hand"),
        "bounce": L_("reason", "bounced"),
        "lost": L_("reason", "lost in the post"),
        "returned": L_("reason", "returned"),
        "rebuttal": L_("reason", "service rebutted"),
        "address_wrong": L_("reason", "address wrong"),
        "moved": L_("reason", "moved"),
        "unknown_recipient": L_("reason", "no such recipient"),
        "nobody_home": L_("reason", "nobody found after 3 tries (PM-6)"),
        "other": L_("reason", "other"),
        "not_found": L_("reason", "recipient not found"),
        "no_such_address": L_("reason", "no such address"),
        "refused_not_left": L_("reason", "refused, documents not left"),
        "system_error": L_("reason", "system error"),
        "not_their_address": L_("reason", "not the recipient's address"),
        "read_by_someone_else": L_("reason", "read by someone else"),
        "whereabouts_unknown": L_("reason", "whereabouts unknown"),
        "other_methods_failed": L_("reason", "every other method failed"),
        "no_field_server_in_court": L_("reason", "the court has no field server"),
        "PM-9: signed by a family member who is the opposing party": L_(
            "reason", "PM-9: signed by a family member who is the opposing party"
        ),
        "PM-7: signed by a minor": L_("reason", "PM-7: signed by a minor"),
        "PM-7: the signer's ID number is not on the receipt": L_(
            "reason", "PM-7: the signer's ID number is not on the receipt"
        ),
    },
    # Who received, signed or refused, relative to the recipient (escalation/receivers.py).
    "relation": {
        "self": L_("relation", "the recipient"),
        "recipient": L_("relation", "the recipient"),
        "guardian": L_("relation", "legal guardian"),
        "family": L_("relation", "adult family member living with the recipient"),
        "family_opposing_party": L_("relation", "family member who is the opposing party"),
        "minor": L_("relation", "a minor"),
        "entity_representative": L_("relation", "the entity's representative"),
        "entity_mailroom": L_("relation", "the entity's mail room"),
        "agent": L_("relation", "litigation agent"),
        "designated_receiver": L_("relation", "designated receiver"),
        "unknown": L_("relation", "unknown person"),
    },
    "consent_basis": {
        "express": L_("consent_basis", "expressly agreed"),
        "contract": L_("consent_basis", "agreed in a contract"),
        "filing": L_("consent_basis", "address given in a filing"),
        "tacit": L_("consent_basis", "tacit (acted on an earlier e-service)"),
    },
    # delivery.vocabulary.RecipientRole; a row stored before the list was closed reads as stored.
    "recipient_role": {
        "plaintiff": L_("recipient_role", "plaintiff"),
        "defendant": L_("recipient_role", "defendant"),
        "third_party": L_("recipient_role", "third party"),
        "appellant": L_("recipient_role", "appellant"),
        "appellee": L_("recipient_role", "appellee"),
        "applicant": L_("recipient_role", "applicant"),
        "respondent": L_("recipient_role", "respondent"),
        "legal_representative": L_("recipient_role", "legal representative"),
        "litigation_agent": L_("recipient_role", "litigation agent"),
    },
    # The policies Songda ships (escalation/policies/); a court's own policy shows its name.
    "policy": {
        "cn-civil": L_("policy", "civil procedure"),
        "cn-foreign": L_("policy", "foreign-related civil procedure"),
        "cn-simplified": L_("policy", "simplified procedure"),
        "us-frcp": L_("policy", "US federal rules (example)"),
    },
    "notice_place": {
        "court_website": L_("notice_place", "court website"),
        "court_notice_board": L_("notice_place", "court notice board"),
        "residence": L_("notice_place", "posted at the residence"),
        "newspaper": L_("notice_place", "newspaper"),
    },
    # Why an attempt ended, as the public notice's "methods tried" lists it (CPL-95): the codes
    # escalation, the field visit and the postal outcomes record.
    "attempt_reason": {
        "not_found": L_("attempt_reason", "nobody found"),
        "moved": L_("attempt_reason", "moved away"),
        "no_such_address": L_("attempt_reason", "no such address"),
        "refused_not_left": L_("attempt_reason", "refused, not left"),
        "lost": L_("attempt_reason", "lost in the post"),
        "returned: address_wrong": L_("attempt_reason", "returned: wrong address"),
        "returned: moved": L_("attempt_reason", "returned: moved away"),
        "returned: unknown_recipient": L_("attempt_reason", "returned: no such recipient"),
        "returned: nobody_home": L_("attempt_reason", "returned: nobody found"),
        "returned: other": L_("attempt_reason", "returned"),
        "bounce": L_("attempt_reason", "bounced"),
        "channel_unavailable": L_("attempt_reason", "channel not configured"),
        "window_elapsed": L_("attempt_reason", "waiting period elapsed"),
        "escalated_by_clerk": L_("attempt_reason", "escalated by a clerk"),
        "service_completed": L_("attempt_reason", "service completed by another method"),
        "dispatch_cancelled": L_("attempt_reason", "dispatch cancelled"),
        "no_e_service_consent": L_("attempt_reason", "no consent to electronic service"),
    },
    # The carrier's statuses (channels/postal/outcomes.py, the sandbox carrier): the reading of
    # PM-11 on a certificate names one.
    "carrier_status": {
        "accepted": L_("carrier_status", "taken by the carrier"),
        "in_transit": L_("carrier_status", "in transit"),
        "delivery_attempted": L_("carrier_status", "delivery attempted"),
        "delivered": L_("carrier_status", "delivered"),
        "refused": L_("carrier_status", "refused"),
        "returned": L_("carrier_status", "returned"),
        "lost": L_("carrier_status", "lost"),
    },
    # A field server's visit (channels/in_person/visits.py OUTCOMES, FILMED_PLACES).
    "visit_outcome": {
        "served": L_("visit_outcome", "served"),
        "refused_left": L_("visit_outcome", "refused; left at the residence"),
        "refused_filmed": L_("visit_outcome", "refused to sign; recorded"),
        "failed": L_("visit_outcome", "not served"),
    },
    "refusal_place": {
        "away_from_home": L_("refusal_place", "away from home"),
        "court": L_("refusal_place", "at the court"),
    },
    # Who served, on the proof of service (tracking/certificate.py).
    "server": {
        "court_system": L_("server", "court system (e-service)"),
        "carrier": L_("server", "carrier"),
        "field_server": L_("server", "field server"),
    },
    # The names of the event details a timeline line shows (dispatch page SHOWN_DETAILS).
    "detail": {
        "step": L_("detail", "step"),
        "name": L_("detail", "step name"),
        "channel": L_("detail", "channel"),
        "reason": L_("detail", "reason"),
        "basis": L_("detail", "basis"),
        "policy": L_("detail", "policy"),
        "previous": L_("detail", "previous"),
        "legal_basis": L_("detail", "legal basis"),
        "written_date": L_("detail", "date written on the proof"),
        "tsa": L_("detail", "time-stamping authority"),
        "place": L_("detail", "place"),
        "repair": L_("detail", "source of a repaired contact (ICP-16)"),
    },
    # The report page's groupings (delivery/services/reports.py GROUPINGS) and the names of the
    # measures its definitions explain (delivery/services/report_figures.py DEFINITIONS).
    "report_grouping": {
        "channel": L_("report_grouping", "channel"),
        "court": L_("report_grouping", "court"),
        "clerk": L_("report_grouping", "clerk"),
        "week": L_("report_grouping", "week"),
        "month": L_("report_grouping", "month"),
    },
    "report_measure": {
        "e_service_usage_rate": L_("report_measure", "E-service usage rate"),
        "success_rate": L_("report_measure", "Success rate"),
        "time_to_service": L_("report_measure", "Time to service"),
        "first_try_rate": L_("report_measure", "First-try rate"),
        "served_after_confirmation": L_("report_measure", "Served after address confirmation"),
        "served_by_reply": L_("report_measure", "Served by reply"),
        "period": L_("report_measure", "Period and groups"),
    },
    # A channel as /verify names the method of service (the law's words, not the channel's).
    "service_method": {
        "email": L_("service_method", "electronic service (e-mail)"),
        "sms": L_("service_method", "electronic service (SMS)"),
        "postal": L_("service_method", "service by court express mail"),
        "in_person": L_("service_method", "service in person"),
        "public_notice": L_("service_method", "service by public notice"),
    },
    # The field server's visit form (channels/in_person/visits.py): outcomes, who signed for
    # the documents and where a refusal was filmed; failure reasons read as "attempt_reason".
    "visit_choice": {
        "served": L_("visit_choice", "Served (signed by the recipient or an eligible receiver)"),
        "refused_left": L_(
            "visit_choice", "Refused: left at the residence (witness or photos/video)"
        ),
        "refused_filmed": L_(
            "visit_choice",
            "Refused to sign away from home or at the court, recorded (CPL-INT-131)",
        ),
        "failed": L_("visit_choice", "Not served"),
    },
    "receiver_relation": {
        "self": L_("receiver_relation", "the recipient"),
        "family": L_("receiver_relation", "adult family member living with them"),
        "entity_representative": L_("receiver_relation", "legal representative / chief"),
        "entity_mailroom": L_("receiver_relation", "the entity's mail room"),
        "agent": L_("receiver_relation", "litigation agent"),
        "designated_receiver": L_("receiver_relation", "designated receiver"),
        "guardian": L_("receiver_relation", "legal guardian"),
    },
    # What runs from service (escalation/periods.py names them).
    "period": {
        "answer": L_("period", "period to answer the complaint"),
        "appeal": L_("period", "period to appeal"),
        "hearing": L_("period", "hearing"),
    },
    # The rule ids of shared/domain.md a person reads as the law they name.
    "legal_basis": {
        "OLR-31": L_("legal_basis", "electronic service (Online Litigation Rules art. 31)"),
        "CPL-87": L_("legal_basis", "signed proof of service (Civil Procedure Law art. 87)"),
        "CPL-88": L_("legal_basis", "handed over in person (Civil Procedure Law art. 88)"),
        "CPL-INT-131": L_("legal_basis", "refusal to sign recorded (CPL Interpretation art. 131)"),
        "CPL-89": L_("legal_basis", "left at the residence (Civil Procedure Law art. 89)"),
        "CPL-91": L_("legal_basis", "court express mail (Civil Procedure Law art. 91)"),
        "PM-11": L_(
            "legal_basis", "court express mail returned (court express mail rules art. 11)"
        ),
        "CPL-95": L_("legal_basis", "public notice (Civil Procedure Law art. 95)"),
        "CPL-283": L_("legal_basis", "public notice abroad (Civil Procedure Law art. 283)"),
        "CPL-128": L_("legal_basis", "Civil Procedure Law art. 128"),
        "CPL-139": L_("legal_basis", "Civil Procedure Law art. 139"),
        "CPL-171": L_("legal_basis", "Civil Procedure Law art. 171"),
        "CPL-285": L_("legal_basis", "Civil Procedure Law art. 285"),
        "CPL-286": L_("legal_basis", "Civil Procedure Law art. 286"),
    },
}
