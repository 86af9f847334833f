"""Every completion rule id of domain.md, table-tested: channel × address source × event →
served or not, and the date of service."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from delivery.domain import Attempt, AttemptState, ContactSource, Dispatch, Event
from escalation.actions import CompleteService, WaitUntil
from escalation.decide import decide
from escalation.policy import parse_policy
from escalation.rules import RULES, CaseFacts, earliest_completion
from unit.builders import a_dispatch

T = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CONFIRMED = ContactSource.RECIPIENT_CONFIRMED
FOUND = ContactSource.COURT_FOUND
ABROAD = CaseFacts(domicile_in_china=False)
MEDIATION = CaseFacts(document_kinds=frozenset({"mediation_statement"}))


def attempt(channel: str, source: ContactSource = CONFIRMED) -> Attempt:
    return Attempt(
        id="a1",
        dispatch_id="d1",
        step_index=0,
        channel=channel,
        contact_id="c1",
        address="x",
        source=source,
        state=AttemptState.SENT,
        created_at=T,
    )


def in_progress(**overrides: Any) -> Dispatch:
    """A dispatch in its first step, started a day before ``T``."""
    return a_dispatch(**{"step_index": 0, "step_started_at": T - timedelta(days=1), **overrides})


def event(type_: str, **data: Any) -> Event:
    return Event(
        id="e1",
        dispatch_id="d1",
        seq=1,
        type=type_,
        occurred_at=T,
        recorded_at=T,
        source="test",
        actor=None,
        attempt_id="a1",
        data=data,
        prev_hash="0" * 64,
        hash="h",
    )


SERVED = [
    # (rule id, channel, source, event type, event data, facts, date of service − event time)
    ("OLR-31", "email", CONFIRMED, "attempt_sent", {}, CaseFacts(), timedelta(0)),
    ("OLR-31", "email", FOUND, "identity_verified", {}, CaseFacts(), timedelta(0)),
    ("OLR-31", "sms", CONFIRMED, "sms_delivered", {}, CaseFacts(), timedelta(0)),
    ("OLR-31", "sms", FOUND, "identity_verified", {}, CaseFacts(), timedelta(0)),
    (
        "OLR-31",
        "sms",
        FOUND,
        "reply_received",
        {"automatic": False, "from_recipient": True, "answers": "service"},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "OLR-31",
        "email",
        FOUND,
        "reply_received",
        {"automatic": False, "from_recipient": True},
        CaseFacts(),
        timedelta(0),
    ),
    ("CPL-87", "postal", FOUND, "proof_signed", {}, CaseFacts(), timedelta(0)),
    ("CPL-88", "in_person", FOUND, "visit_served", {"relation": "self"}, CaseFacts(), timedelta(0)),
    (
        "CPL-88",
        "in_person",
        FOUND,
        "visit_served",
        {"relation": "family"},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "CPL-INT-131",
        "in_person",
        FOUND,
        "visit_refused_filmed",
        {"place": "away", "media": True},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "CPL-89",
        "in_person",
        FOUND,
        "visit_refused_left",
        {"witness": True},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "CPL-89",
        "in_person",
        FOUND,
        "visit_refused_left",
        {"media": True},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "CPL-91",
        "postal",
        FOUND,
        "postal_delivered",
        {"relation": "entity_mailroom", "signer_id_recorded": True},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "PM-11",
        "postal",
        FOUND,
        "postal_refused",
        {"refused_by": "recipient"},
        CaseFacts(),
        timedelta(0),
    ),
    (
        "PM-11",
        "postal",
        CONFIRMED,
        "postal_returned",
        {"reason": "address_wrong"},
        CaseFacts(),
        timedelta(0),
    ),
    ("CPL-95", "public_notice", FOUND, "notice_published", {}, CaseFacts(), timedelta(days=30)),
    ("CPL-283", "public_notice", FOUND, "notice_published", {}, ABROAD, timedelta(days=60)),
    (
        "CPL-283",
        "postal",
        CONFIRMED,
        "postal_accepted",
        {},
        ABROAD,
        datetime(2026, 6, 2, 9, 30, tzinfo=UTC) - T,
    ),
    # The us-frcp example profile's rules.
    ("FRCP-5(b)(2)(E)", "email", FOUND, "attempt_sent", {}, CaseFacts(), timedelta(0)),
    ("FRCP-5(b)(2)(C)", "postal", FOUND, "postal_accepted", {}, CaseFacts(), timedelta(0)),
    (
        "FRCP-4(e)",
        "in_person",
        FOUND,
        "visit_served",
        {"relation": "suitable_age_resident"},
        CaseFacts(),
        timedelta(0),
    ),
]
# The PRC rules of domain.md (the table of what does not serve is about them).
CN_RULES = [rule_id for rule_id in RULES if not rule_id.startswith("FRCP")]

NOT_SERVED = [
    # (why, channel, source, event type, event data, facts)
    (
        "court-found e-mail merely accepted (OLR-31)",
        "email",
        FOUND,
        "attempt_sent",
        {},
        CaseFacts(),
    ),
    ("court-found SMS merely delivered (OLR-31)", "sms", FOUND, "sms_delivered", {}, CaseFacts()),
    (
        "an automatic e-mail reply (OLR-31, RFC 3834)",
        "email",
        FOUND,
        "reply_received",
        {"automatic": True, "from_recipient": True},
        CaseFacts(),
    ),
    (
        "an e-mail reply from another address (OLR-31)",
        "email",
        FOUND,
        "reply_received",
        {"automatic": False, "from_recipient": False},
        CaseFacts(),
    ),
    (
        "an SMS reply to an identity-check code (OLR-31)",
        "sms",
        FOUND,
        "reply_received",
        {"automatic": False, "from_recipient": True, "answers": "code"},
        CaseFacts(),
    ),
    (
        "an SMS reply to an address confirmation request (OLR-31)",
        "sms",
        FOUND,
        "reply_received",
        {"automatic": False, "from_recipient": True, "answers": "confirmation_request"},
        CaseFacts(),
    ),
    (
        "signed by the opposing party (PM-9)",
        "postal",
        FOUND,
        "postal_delivered",
        {"relation": "family_opposing_party", "signer_id_recorded": True},
        CaseFacts(),
    ),
    (
        "signed without ID number (PM-7)",
        "postal",
        FOUND,
        "postal_delivered",
        {"relation": "self", "signer_id_recorded": False},
        CaseFacts(),
    ),
    (
        "refused by a family member",
        "postal",
        FOUND,
        "postal_refused",
        {"refused_by": "other"},
        CaseFacts(),
    ),
    (
        "court-found address wrong",
        "postal",
        FOUND,
        "postal_returned",
        {"reason": "moved"},
        CaseFacts(),
    ),
    (
        "nobody found after 3 tries (PM-6)",
        "postal",
        CONFIRMED,
        "postal_returned",
        {"reason": "nobody_home"},
        CaseFacts(),
    ),
    ("lost in the post", "postal", CONFIRMED, "postal_lost", {}, CaseFacts()),
    (
        "left without witness or media (CPL-89)",
        "in_person",
        FOUND,
        "visit_refused_left",
        {},
        CaseFacts(),
    ),
    (
        "left with a mediation statement (CPL-INT-133)",
        "in_person",
        FOUND,
        "visit_refused_left",
        {"witness": True},
        MEDIATION,
    ),
    ("handed to a minor", "in_person", FOUND, "visit_served", {"relation": "minor"}, CaseFacts()),
    (
        "a mediation statement handed to a family member (CPL-INT-133)",
        "in_person",
        FOUND,
        "visit_served",
        {"relation": "family"},
        MEDIATION,
    ),
    (
        "refused away from home, not filmed (CPL-INT-131)",
        "in_person",
        FOUND,
        "visit_refused_filmed",
        {"place": "away"},
        CaseFacts(),
    ),
    (
        "posted in China: served by receipt only",
        "postal",
        CONFIRMED,
        "postal_accepted",
        {},
        CaseFacts(),
    ),
    (
        "abroad, registered with the carrier but not yet posted (CPL-283)",
        "postal",
        CONFIRMED,
        "attempt_sent",
        {},
        ABROAD,
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "channel", "source", "type_", "data", "facts", "after"),
    SERVED,
    ids=[f"{r[0]}-{r[3]}" for r in SERVED],
)
def test_served(
    rule_id: str,
    channel: str,
    source: ContactSource,
    type_: str,
    data: dict[str, Any],
    facts: CaseFacts,
    after: timedelta,
) -> None:
    """Each rule alone, and the same receipt through ``decide`` with a one-step policy of that
    rule: service completes with the rule id and the date."""
    receipts = [event(type_, **data)]
    found = earliest_completion([rule_id], [attempt(channel, source)], receipts, facts)
    assert found is not None
    assert (found.rule_id, found.served_at) == (rule_id, T + after)

    policy = parse_policy(
        {
            "name": "one",
            "steps": [
                {"name": "s", "channels": [channel], "window_days": 400, "completion": [rule_id]}
            ],
        },
        "test",
    )
    dispatch = in_progress(
        document_kinds=facts.document_kinds, domicile_in_china=facts.domicile_in_china
    )
    [done, *_rest] = decide(dispatch, [attempt(channel, source)], receipts, T + after, policy)
    assert isinstance(done, CompleteService)
    assert done.completion == found


@pytest.mark.parametrize(
    ("why", "channel", "source", "type_", "data", "facts"),
    NOT_SERVED,
    ids=[r[0] for r in NOT_SERVED],
)
def test_not_served(
    why: str,
    channel: str,
    source: ContactSource,
    type_: str,
    data: dict[str, Any],
    facts: CaseFacts,
) -> None:
    assert (
        earliest_completion(CN_RULES, [attempt(channel, source)], [event(type_, **data)], facts)
        is None
    )


def test_every_rule_id_is_table_tested() -> None:
    assert {row[0] for row in SERVED} == set(RULES)


def test_a_running_notice_period_is_waited_for_then_served() -> None:
    """CPL-95: the decision waits for the deemed date, then completes service on it."""
    policy = parse_policy(
        {
            "name": "notice",
            "steps": [
                {
                    "name": "notice",
                    "channels": ["public_notice"],
                    "window_days": 45,
                    "completion": ["CPL-95"],
                }
            ],
        },
        "test",
    )
    dispatch = in_progress(consent_given=False)
    published = [event("notice_published")]
    notice = attempt("public_notice", FOUND)
    assert decide(dispatch, [notice], published, T + timedelta(days=3), policy) == [
        WaitUntil(T + timedelta(days=30))
    ]
    [done] = decide(dispatch, [notice], published, T + timedelta(days=30), policy)
    assert isinstance(done, CompleteService)
    assert (done.completion.rule_id, done.completion.served_at) == (
        "CPL-95",
        T + timedelta(days=30),
    )


@pytest.mark.parametrize(
    "ended",
    [AttemptState.RETURNED, AttemptState.FAILED, AttemptState.REFUSED, AttemptState.EXPIRED],
)
def test_post_abroad_that_came_back_is_never_deemed_served_cpl_283(ended: AttemptState) -> None:
    """CPL-283's three months need circumstances showing delivery: a returned, lost, refused or
    abandoned piece has none, so it neither serves nor holds up the ladder."""
    piece = attempt("postal")
    piece.state = ended
    assert earliest_completion(["CPL-283"], [piece], [event("postal_accepted")], ABROAD) is None


def test_three_months_abroad_are_counted_on_the_courts_calendar_cpl_283() -> None:
    """Posted at 04:00 on 31 January in Beijing (20:00 on the 30th in UTC): deemed on 30 April
    (April has no 31st), not on the 30th counted from 30 January."""
    shanghai = ZoneInfo("Asia/Shanghai")
    posted = datetime(2026, 1, 30, 20, 0, tzinfo=UTC)
    receipt = replace(event("postal_accepted"), occurred_at=posted)
    facts = CaseFacts(domicile_in_china=False, zone=shanghai)
    found = earliest_completion(["CPL-283"], [attempt("postal")], [receipt], facts)
    assert found is not None
    assert found.served_at.astimezone(shanghai).date() == date(2026, 4, 30)
    in_utc = earliest_completion(
        ["CPL-283"], [attempt("postal")], [receipt], CaseFacts(domicile_in_china=False)
    )
    assert in_utc is not None and in_utc.served_at == datetime(2026, 4, 30, 20, 0, tzinfo=UTC)
