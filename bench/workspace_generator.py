"""The rows of the seeded dispatches: who they are for, their court, case and clerk, and
the rows Songda writes for each (contacts, documents, attempts, events, outcomes, webhooks).

Deterministic for a given seed; :mod:`workspace_ladder` makes each dispatch's events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from workspace_ladder import SERVED_BY, WINDOW_DAYS, Plan, Timeline, id_at, random_hash, walk

from delivery.clock import rfc3339
from delivery.domain import OUTCOME_EVENTS
from delivery.storage import schema
from delivery.storage.outcomes import (
    AttemptFacts,
    mark_standing,
    outcome_row,
    service_reach,
    with_report_facts,
)
from delivery.storage.schema.dispatch import open_channels
from delivery.vocabulary import ELECTRONIC_CHANNELS, Channel, ContactKind

COURTS = ("杭州市西湖区人民法院", "宁波市海曙区人民法院", "温州市鹿城区人民法院")
COURT_CODES = ("浙0106", "浙0203", "浙0302")
COURT_WEIGHTS = (5, 3, 2)
SPAN = timedelta(days=425)  # ~14 months of history before "now"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"  # fmt: skip
SURNAMES += "袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强晓明海燕红梅玉兰"
COMPANIES = ("科技有限公司", "贸易有限公司", "建设工程有限公司", "餐饮管理有限公司")
CITIES = ("杭州", "宁波", "温州", "绍兴", "嘉兴")
DOCUMENT_KINDS = ("complaint", "summons", "evidence_notice", "ruling", "judgment")


@dataclass
class Rows:
    """The rows of one chunk, per table, in the order COPY needs them (parents first)."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self.tables.setdefault(table.name, []).append(row)

    def count(self, table: sa.Table) -> int:
        return len(self.tables.get(table.name, ()))


@dataclass
class Staff:
    clerks: dict[str, list[str]]  # court → clerk ids
    api_key_id: str
    endpoint_id: str
    documents: list[str]


class Party(NamedTuple):
    """One dispatch's place in the court's work: when it came, its court and case, its owner."""

    created: datetime
    court: str
    case: str
    owner: str
    owner_reason: str  # named, case (the case's owner), round_robin


@dataclass(frozen=True)
class Chunk:
    """Dispatches ``start``… to make in one go: their parties, and the seed of their rows."""

    start: int
    parties: list[Party]
    seed: int


class Cases:
    """The part of the work that runs from one dispatch to the next — creation times in
    order, case numbers counted per court and year, a case's parties sharing its owner, the
    round robin — made in order, in one process (cheap); the rest of each dispatch is made
    from its :class:`Party` alone (:class:`Generator`), so chunks can be made apart."""

    def __init__(self, rng: random.Random, staff: Staff, now: datetime, n: int) -> None:
        self.rng = rng
        # Creation times in order, as dispatches arrive: ids then grow like a real table's
        # (appending to its indexes), and a case's parties arrive close together.
        self.created = sorted(self._creation_time(now) for _ in range(n))
        self.staff = staff
        self.case_owner: dict[str, str] = {}
        self.recent_cases: dict[str, list[str]] = {c: [] for c in COURTS}
        self.case_counter: dict[tuple[str, int], int] = {}
        self.round_robin = dict.fromkeys(COURTS, 0)

    def _creation_time(self, now: datetime) -> datetime:
        created = now - SPAN * self.rng.random() ** 1.1  # a little busier lately
        created = created.replace(hour=self.rng.randint(0, 9))  # office hours in Beijing (UTC)
        return created - timedelta(days=1) if created > now else created

    def chunk(self, start: int, end: int) -> Chunk:
        parties = []
        for created in self.created[start:end]:
            court = self.rng.choices(COURTS, COURT_WEIGHTS)[0]
            parties.append(Party(created, court, *self._case(court, created)))
        return Chunk(start, parties, self.rng.getrandbits(64))

    def _case(self, court: str, created: datetime) -> tuple[str, str, str]:
        """(case number, owner id, how the owner was chosen): several parties share a case."""
        recent = self.recent_cases[court]
        if recent and self.rng.random() < 0.35:
            case = self.rng.choice(recent[-200:])
            return case, self.case_owner[case], "case"
        code = COURT_CODES[COURTS.index(court)]
        key = (court, created.year)
        self.case_counter[key] = self.case_counter.get(key, 0) + 1
        case = f"({created.year}){code}民初{self.case_counter[key]}号"
        recent.append(case)
        clerks = self.staff.clerks[court]
        if self.rng.random() < 0.3:
            owner, reason = self.rng.choice(clerks), "named"
        else:
            owner, reason = clerks[self.round_robin[court] % len(clerks)], "round_robin"
            self.round_robin[court] += 1
        self.case_owner[case] = owner
        return case, owner, reason


class Generator:
    """Makes the rows of a chunk's dispatches (deterministic for the chunk's seed)."""

    def __init__(self, staff: Staff, now: datetime) -> None:
        self.staff = staff
        self.now = now
        self.rng = random.Random()

    def chunk(self, chunk: Chunk) -> Rows:
        self.rng.seed(chunk.seed)
        rows = Rows()
        for i, party in enumerate(chunk.parties, chunk.start):
            self.dispatch(rows, i, party)
        return rows

    def _recipient(self) -> tuple[str, str]:
        if self.rng.random() < 0.15:
            name = self.rng.choice(CITIES) + "".join(self.rng.sample(GIVEN, 2))
            return name + self.rng.choice(COMPANIES), "defendant"
        name = self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))
        return name, self.rng.choice(("defendant", "defendant", "plaintiff", "third_party"))

    def _plan(self, age: timedelta) -> Plan:
        """(planned end, its step, serving channel, rule). A notice waits for approval for
        days, not months: only a recent dispatch is planned to be still waiting."""
        r = self.rng.random()
        if r >= 0.97 and age > timedelta(days=45):
            channel, step, _w, rule = SERVED_BY[-1]
            return "served", step, channel, rule
        if r < 0.84:
            weights = [w for _c, _s, w, _r in SERVED_BY]
            channel, step, _w, rule = self.rng.choices(SERVED_BY, weights)[0]
            return "served", step, channel, rule
        if r < 0.91:
            return "failed", self.rng.choice((2, 2, 3)), None, None
        if r < 0.97:
            return "cancelled", self.rng.choice((0, 0, 1)), None, None
        return "notice_pending", 3, None, None

    def dispatch(self, rows: Rows, i: int, party: Party) -> None:
        rng = self.rng
        created, court, case, owner, owner_reason = party
        name, role = self._recipient()
        dispatch_id = id_at(created, rng)
        t = Timeline(rng, dispatch_id, self.now)
        key_actor = f"api_key:{self.staff.api_key_id}"
        reference = f"bench-{i:07d}"

        contacts = [
            ("email", f"party{i}@example.com", None),
            ("phone", f"+86138{rng.randrange(10**8):08d}", None),
            ("postal", f"浙江省{rng.choice(CITIES)}市人民路{rng.randint(1, 999)}号", "310000"),
        ]
        contact_ids = {}
        for pos, (kind, value, postcode) in enumerate(contacts):
            contact_id = id_at(created, rng)
            contact_ids[kind] = (contact_id, value)
            rows.add(
                schema.contacts,
                {
                    "id": contact_id,
                    "dispatch_id": dispatch_id,
                    "kind": kind,
                    "value": value,
                    "postcode": postcode,
                    "source": "recipient_confirmed"
                    if kind != ContactKind.POSTAL
                    else "court_found",
                    "position": pos,
                },
            )
        documents = rng.sample(self.staff.documents, rng.choice((1, 2, 2, 3)))
        for pos, document_id in enumerate(documents):
            rows.add(
                schema.dispatch_documents,
                {"dispatch_id": dispatch_id, "document_id": document_id, "position": pos},
            )
        hearing = created + timedelta(days=rng.randint(25, 70)) if rng.random() < 0.4 else None

        t.add(
            created,
            "dispatch_created",
            {
                "reference": reference,
                "request_fingerprint": random_hash(rng),
                "documents": documents,
                "consent": {"given": True, "basis": "express"},
                "contacts": [{"id": cid, "kind": k} for k, (cid, _v) in contact_ids.items()],
            },
            source="api",
            actor=key_actor,
        )
        t.add(created, "owner_assigned", {"owner_id": owner, "reason": owner_reason}, source="api")
        messages = [("dispatch.created", created)]

        _end, _step, channel, rule = plan = self._plan(self.now - created)
        step_start = created + timedelta(seconds=rng.randint(1, 30))
        attempts, step_index, step_started_at, served_attempt, served_at, served_periods = walk(
            t,
            plan,
            step_start,
            contact_ids=contact_ids,
            hearing=hearing,
            owner=owner,
            documents=documents,
            messages=messages,
        )

        for a in attempts:
            state = t.attempt_states.get(a["id"])
            if state is None:
                continue
            rows.add(
                schema.attempts,
                {
                    "id": a["id"],
                    "dispatch_id": dispatch_id,
                    "step_index": a["step"],
                    "channel": a["channel"],
                    "contact_id": a["contact_id"],
                    "address": a["address"],
                    "source": "recipient_confirmed",
                    "state": state,
                    "reason": None,
                    "provider_ref": f"ref-{a['id']}" if a["channel"] != Channel.IN_PERSON else None,
                    "tries": 1,
                    "next_action_at": None,
                    "sent_at": a["sent_at"] if a["sent_at"] <= self.now else None,
                    "link_issued_at": a["sent_at"] if a["channel"] in ELECTRONIC_CHANNELS else None,
                    "created_at": a["created_at"],
                    "updated_at": a["created_at"],
                },
            )
        state = t.state
        next_action_at = None
        if state == "in_progress" and step_started_at is not None and step_index in (0, 1, 2):
            assert step_index is not None
            next_action_at = step_started_at + timedelta(days=WINDOW_DAYS[step_index])
            if rng.random() < 0.02:  # the sweep is behind: the window is overdue
                next_action_at = self.now - timedelta(hours=rng.uniform(1, 30))
        last = t.events[-1]
        rows.add(
            schema.dispatches,
            {
                "id": dispatch_id,
                "api_key_id": self.staff.api_key_id,
                "reference": reference,
                "request_hash": random_hash(rng),
                "court": court,
                "case_number": case,
                "policy": "cn-civil",
                "state": state,
                "state_reason": {"failed": "ladder_exhausted", "cancelled": "case withdrawn"}.get(
                    state
                ),
                "recipient_name": name,
                "recipient_role": role,
                "id_hmac": random_hash(rng),
                "id_last4": f"{rng.randrange(10**4):04d}",
                "consent_given": True,
                "consent_basis": "express",
                "domicile_in_china": True,
                "document_kinds": json.dumps(sorted(rng.sample(DOCUMENT_KINDS, 2))),
                "service_deadline_at": hearing - timedelta(days=15) if hearing else None,
                "locale": "zh-CN",
                "hearing_at": hearing,
                "step_index": step_index,
                "step_started_at": step_started_at,
                "next_action_at": next_action_at,
                "served_at": served_at,
                "service_date": (served_at + timedelta(hours=8)).date() if served_at else None,
                "served_by_channel": channel if served_attempt else None,
                "legal_basis": rule if served_attempt else None,
                "periods": json.dumps(served_periods) if served_attempt else None,
                "event_seq": last["seq"],
                "chain_head": last["hash"],
                "created_at": created,
                "updated_at": last["occurred_at"],
                "owner_id": owner,
                "open_channels": open_channels(
                    (a["channel"], t.attempt_states[a["id"]])
                    for a in attempts
                    if a["id"] in t.attempt_states
                ),
            },
        )
        # The reports' projection of the outcome events, as the unit of work writes it.
        stored = [
            (a["created_at"], AttemptFacts(a["id"], a["step"], a["channel"]))
            for a in attempts
            if a["id"] in t.attempt_states
        ]
        outcomes = []
        for event in t.events:
            rows.add(schema.events, event)
            if event["type"] in OUTCOME_EVENTS:
                then = [f for made, f in stored if made <= event["recorded_at"]]
                # No generated service is at a confirmed address or by a reply.
                reach = service_reach(event, (), ())
                row = {**outcome_row(event, court, created, then), **reach}
                outcomes.append(with_report_facts(row))
        for outcome in mark_standing(outcomes, {dispatch_id: owner}):
            rows.add(schema.service_outcomes, outcome)
        self._webhooks(rows, dispatch_id, messages)

    def _webhooks(
        self, rows: Rows, dispatch_id: str, messages: Sequence[tuple[str, datetime]]
    ) -> None:
        """One outbox message per webhook and one delivery each; a few endpoints said no."""
        failing = self.rng.random() < 0.04
        for n, (type, at) in enumerate(messages):
            message_id = id_at(at, self.rng)
            rows.add(
                schema.outbox_messages,
                {
                    "id": message_id,
                    "dispatch_id": dispatch_id,
                    "type": type,
                    "payload": json.dumps({"type": type, "timestamp": rfc3339(at)}),
                    "created_at": at,
                },
            )
            failed = failing and n == len(messages) - 1
            rows.add(
                schema.webhook_deliveries,
                {
                    "id": id_at(at, self.rng),
                    "message_id": message_id,
                    "dispatch_id": dispatch_id,
                    "endpoint_id": self.staff.endpoint_id,
                    "state": "failed" if failed else "delivered",
                    "tries": 8 if failed else 1,
                    "next_attempt_at": None,
                    "lease_until": None,
                    "last_status": 500 if failed else 204,
                    "last_error": "HTTP 500" if failed else None,
                    "created_at": at,
                    "delivered_at": None if failed else at + timedelta(seconds=1),
                },
            )
