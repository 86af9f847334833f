"""Seeding a PostgreSQL database with 14 months of a service group's work, for bench/workspace.py.

Creating 100,000 dispatches through the API would take hours (each one is a transaction, a
ladder decision, jobs); the pages under test only read rows. So the rows are made here, in
Python, in the shapes Songda writes them (the same columns, the same event types and data the
queue, the dispatch page and the reports read) and copied in with PostgreSQL's ``COPY`` (asyncpg's
``copy_records_to_table``), one chunk of dispatches per transaction.

Each dispatch walks the ``cn-civil`` ladder in time from its creation: e-mail + SMS (3 days),
court express mail (10 days), in person (7 days), public notice (approval, then 30 days). Its
planned end (served by a channel, failed, cancelled, or waiting for notice approval) is cut at
"now": a recent dispatch is still in progress at the step that is running now. Its events keep
``seq`` consecutive per dispatch and carry the data the reports read (``owner_assigned``
{owner_id, reason}, ``dispatch_served`` {channel, served_at, attempt_id, legal_basis,
service_date}, …), and each outcome event its ``service_outcomes`` row (the reports read those),
made by the unit of work's own ``outcome_row``; the hash chain is random hex — it links but
does not verify, which no page under test checks.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from ulid import ULID

from delivery.clock import Clock, rfc3339
from delivery.domain import OUTCOME_EVENTS
from delivery.services.staff_accounts import create_staff_user, generate_password
from delivery.staff import Role
from delivery.storage import schema
from delivery.storage.outcomes import AttemptFacts, outcome_row
from delivery.vocabulary import ELECTRONIC_CHANNELS, Channel, ContactKind

COURTS = ("杭州市西湖区人民法院", "宁波市海曙区人民法院", "温州市鹿城区人民法院")
COURT_CODES = ("浙0106", "浙0203", "浙0302")
COURT_WEIGHTS = (5, 3, 2)
CLERKS_PER_COURT = 4
# The account the benchmark logs in with: a clerk of all three courts, so the queue it sees
# holds every one of the dispatches (the largest queue there is).
BENCH_CLERK = "bench-clerk"
BENCH_PASSWORD = "bench-clerk-password-2026"
SPAN = timedelta(days=425)  # ~14 months of history before "now"
CHUNK = 5000  # dispatches per COPY transaction

STEPS = ("electronic", "postal", "in_person", "public_notice")
STEP_CHANNELS = (("email", "sms"), ("postal",), ("in_person",), ("public_notice",))
WINDOW_DAYS = (3, 10, 21)  # in person: three visits of 7 days
# The channel that served, its ladder step, its weight among served dispatches, the rule.
SERVED_BY = (
    ("email", 0, 45, "OLR-31"),
    ("sms", 0, 25, "OLR-31"),
    ("postal", 1, 20, "CPL-91"),
    ("in_person", 2, 7, "CPL-88"),
    ("public_notice", 3, 3, "CPL-95"),
)
READINGS = {
    "OLR-31": "recipient-confirmed address; accepted by the recipient's mail or SMS provider",
    "CPL-91": "court express mail signed for by the recipient (carrier tracking)",
    "CPL-88": "delivered in person by the field server, receipt signed",
    "CPL-95": "public notice period elapsed after the last publication",
}
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


@dataclass
class Seeded:
    """What was made: row counts per table."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, rows: Rows) -> None:
        for name, found in rows.tables.items():
            self.counts[name] = self.counts.get(name, 0) + len(found)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _id(at: datetime) -> str:
    """A ULID of the moment: ids sort like the times they were made at, as Songda's do."""
    return str(ULID.from_datetime(at))


class _Timeline:
    """One dispatch's events in time order, cut at ``now``; tracks states as it goes."""

    def __init__(self, rng: random.Random, dispatch_id: str, now: datetime) -> None:
        self.rng = rng
        self.dispatch_id = dispatch_id
        self.now = now
        self.events: list[dict[str, Any]] = []
        self.state = "queued"
        self.attempt_states: dict[str, str] = {}
        self.cut = False
        self._head = "0" * 64

    def add(
        self,
        at: datetime,
        type: str,
        data: dict[str, Any],
        *,
        source: str = "escalation",
        actor: str | None = None,
        attempt_id: str | None = None,
        state: str | None = None,
        attempt_state: str | None = None,
    ) -> bool:
        """Record the event unless it lies after ``now`` (then nothing later is recorded)."""
        if self.cut or at > self.now:
            self.cut = True
            return False
        if state is not None:
            self.state = state
            data = {"state": state, **data}
        if attempt_id is not None and attempt_state is not None:
            self.attempt_states[attempt_id] = attempt_state
        digest = _hex(self.rng)
        self.events.append(
            {
                "id": _id(at),
                "dispatch_id": self.dispatch_id,
                "seq": len(self.events) + 1,
                "attempt_id": attempt_id,
                "type": type,
                "occurred_at": at,
                "recorded_at": at,
                "source": source,
                "actor": actor,
                "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "prev_hash": self._head,
                "hash": digest,
            }
        )
        self._head = digest
        return True


class Generator:
    """Makes the rows of dispatch after dispatch (deterministic for a given seed)."""

    def __init__(self, rng: random.Random, staff: Staff, now: datetime, n: int) -> None:
        self.rng = rng
        # Creation times in order, as dispatches arrive: ids then grow like a real table's
        # (appending to its indexes), and a case's parties arrive close together.
        self.created = sorted(self._creation_time(now) for _ in range(n))
        self.staff = staff
        self.now = now
        self.case_owner: dict[str, str] = {}
        self.recent_cases: dict[str, list[str]] = {c: [] for c in COURTS}
        self.case_counter: dict[tuple[str, int], int] = {}
        self.round_robin = dict.fromkeys(COURTS, 0)

    def _creation_time(self, now: datetime) -> datetime:
        created = now - SPAN * self.rng.random() ** 1.1  # a little busier lately
        created = created.replace(hour=self.rng.randint(0, 9))  # office hours in Beijing (UTC)
        return created - timedelta(days=1) if created > now else created

    def chunk(self, start: int, end: int) -> Rows:
        rows = Rows()
        for i in range(start, end):
            self.dispatch(rows, i)
        return rows

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

    def _recipient(self) -> tuple[str, str]:
        if self.rng.random() < 0.15:
            name = self.rng.choice(CITIES) + "".join(self.rng.sample(GIVEN, 2))
            return name + self.rng.choice(COMPANIES), "defendant"
        name = self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))
        return name, self.rng.choice(("defendant", "defendant", "plaintiff", "third_party"))

    def _plan(self, age: timedelta) -> tuple[str, int, str | None, str | None]:
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

    def dispatch(self, rows: Rows, i: int) -> None:
        rng = self.rng
        created = self.created[i]
        court = rng.choices(COURTS, COURT_WEIGHTS)[0]
        case, owner, owner_reason = self._case(court, created)
        name, role = self._recipient()
        dispatch_id = _id(created)
        t = _Timeline(rng, dispatch_id, self.now)
        key_actor = f"api_key:{self.staff.api_key_id}"
        reference = f"bench-{i:07d}"

        contacts = [
            ("email", f"party{i}@example.com", None),
            ("phone", f"+86138{rng.randrange(10**8):08d}", None),
            ("postal", f"浙江省{rng.choice(CITIES)}市人民路{rng.randint(1, 999)}号", "310000"),
        ]
        contact_ids = {}
        for pos, (kind, value, postcode) in enumerate(contacts):
            contact_id = _id(created)
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
                "request_fingerprint": _hex(rng),
                "documents": documents,
                "consent": {"given": True, "basis": "express"},
                "contacts": [{"id": cid, "kind": k} for k, (cid, _v) in contact_ids.items()],
            },
            source="api",
            actor=key_actor,
        )
        t.add(created, "owner_assigned", {"owner_id": owner, "reason": owner_reason}, source="api")
        messages = [("dispatch.created", created)]

        end, end_step, channel, rule = self._plan(self.now - created)
        attempts: list[dict[str, Any]] = []
        step_start = created + timedelta(seconds=rng.randint(1, 30))
        served_attempt: str | None = None
        served_at: datetime | None = None
        served_periods: list[dict[str, Any]] = []
        step_index: int | None = None
        step_started_at: datetime | None = None
        for step in range(end_step + 1):
            started = t.add(
                step_start,
                "step_started",
                {"step": step, "name": STEPS[step], "attempts": len(STEP_CHANNELS[step])},
                state="in_progress" if step == 0 else None,
            )
            if not started:
                break
            step_index, step_started_at = step, step_start
            if step:
                messages.append(("dispatch.escalated", step_start))
            if step == 1 and hearing is not None and rng.random() < 0.5:
                t.add(
                    step_start,
                    "dispatch_at_risk",
                    {
                        "service_deadline_at": rfc3339(hearing - timedelta(days=15)),
                        "step_ends_at": rfc3339(step_start + timedelta(days=10)),
                    },
                )
                messages.append(("dispatch.at_risk", step_start))
            step_attempts = []
            for ch in STEP_CHANNELS[step]:
                kind = {"email": "email", "sms": "phone"}.get(ch, "postal")
                contact_id, address = contact_ids[kind]
                attempt_id = _id(step_start)
                sent_at = step_start + timedelta(seconds=rng.randint(2, 600))
                t.add(
                    step_start,
                    "attempt_created",
                    {"channel": ch, "contact_id": contact_id},
                    attempt_id=attempt_id,
                    attempt_state="pending",
                )
                t.add(
                    sent_at,
                    "attempt_sent",
                    {"state": "sent"},
                    attempt_id=attempt_id,
                    attempt_state="sent",
                )
                step_attempts.append((attempt_id, ch, contact_id, address, sent_at))
            attempts += [
                {
                    "id": a,
                    "channel": ch,
                    "contact_id": c,
                    "address": addr,
                    "step": step,
                    "created_at": step_start,
                    "sent_at": s,
                }
                for a, ch, c, addr, s in step_attempts
            ]
            if step < end_step:  # the window ran out: the step's attempts expired
                step_end = step_start + timedelta(
                    days=WINDOW_DAYS[step], seconds=rng.randint(0, 3600)
                )
                for attempt_id, *_ in step_attempts:
                    t.add(
                        step_end,
                        "attempt_expired",
                        {"state": "expired"},
                        attempt_id=attempt_id,
                        attempt_state="expired",
                    )
                step_start = step_end
                continue
            if end == "served":
                attempt_id = next(a for a, ch, *_ in step_attempts if ch == channel)
                delay = {
                    0: timedelta(minutes=rng.expovariate(1 / 90)),
                    1: timedelta(days=rng.uniform(1.5, 9)),
                    2: timedelta(days=rng.uniform(0.5, 20)),  # up to three visits
                    3: timedelta(days=rng.uniform(31, 40)),
                }[step]
                if step == 3:
                    t.add(
                        step_start + timedelta(minutes=5),
                        "notice_awaiting_approval",
                        {},
                        state="notice_pending",
                    )
                    t.add(
                        step_start + timedelta(days=rng.uniform(0.5, 3)),
                        "notice_approved",
                        {"approved_by": f"staff:{owner}"},
                        source="clerk",
                        state="in_progress",
                    )
                at = max(step_start + delay, max(s for *_, s in step_attempts))
                at += timedelta(seconds=rng.randint(5, 60))
                read = step == 0 and rng.random() < 0.4
                t.add(
                    at,
                    "attempt_read" if read else "attempt_delivered",
                    {},
                    attempt_id=attempt_id,
                    attempt_state="read" if read else "delivered",
                )
                service_date = (at + timedelta(hours=8)).date()  # Asia/Shanghai
                # The answer period the service starts (as progress.py records it).
                periods = [
                    {
                        "name": "answer",
                        "document_id": documents[0],
                        "basis": "CPL-128",
                        "days": 15,
                        "ends_on": (service_date + timedelta(days=15)).isoformat(),
                        "provisional": False,
                    }
                ]
                if t.add(
                    at,
                    "dispatch_served",
                    {
                        "legal_basis": rule,
                        "reading": READINGS[rule],
                        "served_at": rfc3339(at),
                        "service_date": service_date.isoformat(),
                        "channel": channel,
                        "attempt_id": attempt_id,
                        "completing_event_id": t.events[-1]["id"],
                        "periods": periods,
                    },
                    state="served",
                ):
                    served_attempt, served_at, served_periods = attempt_id, at, periods
                    for other, *_ in step_attempts:  # the ladder closes the other attempts
                        if other != attempt_id:
                            t.add(
                                at,
                                "attempt_cancelled",
                                {"reason": "service_completed"},
                                attempt_id=other,
                                attempt_state="cancelled",
                            )
                    t.add(at, "chain_checkpoint", {"head": t.events[-1]["hash"], "alg": "Ed25519"})
                    messages.append(("dispatch.served", at))
            elif end == "failed":
                at = step_start + timedelta(days=WINDOW_DAYS[min(step, 2)])
                for attempt_id, *_ in step_attempts:
                    t.add(
                        at,
                        "attempt_failed",
                        {"state": "failed"},
                        attempt_id=attempt_id,
                        attempt_state="failed",
                    )
                if t.add(at, "dispatch_failed", {"reason": "ladder_exhausted"}, state="failed"):
                    messages.append(("dispatch.failed", at))
            elif end == "cancelled":
                at = step_start + timedelta(hours=rng.uniform(1, 48))
                if t.add(
                    at,
                    "dispatch_cancelled",
                    {"reason": "case withdrawn"},
                    source="clerk",
                    actor=f"staff:{owner}",
                    state="cancelled",
                ):
                    for attempt_id, *_ in step_attempts:
                        t.attempt_states[attempt_id] = "cancelled"
                    messages.append(("dispatch.cancelled", at))
            elif t.add(
                step_start + timedelta(minutes=5),
                "notice_awaiting_approval",
                {},
                state="notice_pending",
            ):
                messages.append(("dispatch.notice_awaiting_approval", step_start))
            break

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
                "request_hash": _hex(rng),
                "court": court,
                "case_number": case,
                "policy": "cn-civil",
                "state": state,
                "state_reason": {"failed": "ladder_exhausted", "cancelled": "case withdrawn"}.get(
                    state
                ),
                "recipient_name": name,
                "recipient_role": role,
                "id_hmac": _hex(rng),
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
            },
        )
        # The reports' projection of the outcome events, as the unit of work writes it.
        stored = [
            (a["created_at"], AttemptFacts(a["id"], a["step"], a["channel"]))
            for a in attempts
            if a["id"] in t.attempt_states
        ]
        for event in t.events:
            rows.add(schema.events, event)
            if event["type"] in OUTCOME_EVENTS:
                then = [f for made, f in stored if made <= event["recorded_at"]]
                rows.add(schema.service_outcomes, outcome_row(event, court, created, then))
        self._webhooks(rows, dispatch_id, messages)

    def _webhooks(
        self, rows: Rows, dispatch_id: str, messages: Sequence[tuple[str, datetime]]
    ) -> None:
        """One outbox message per webhook and one delivery each; a few endpoints said no."""
        failing = self.rng.random() < 0.04
        for n, (type, at) in enumerate(messages):
            message_id = _id(at)
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
                    "id": _id(at),
                    "message_id": message_id,
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


async def _staff(engine: AsyncEngine, clock: Clock, rng: random.Random) -> Staff:
    """The clerks (one known, who logs in), the case system's key and its webhook endpoint."""
    clerks: dict[str, list[str]] = {c: [] for c in COURTS}
    bench = await create_staff_user(
        engine,
        clock,
        username=BENCH_CLERK,
        display_name="基准书记员",
        roles=[Role.CLERK.value],
        courts=COURTS,
        password=BENCH_PASSWORD,
    )
    clerks[COURTS[0]].append(bench.id)
    for court_no, court in enumerate(COURTS):
        while len(clerks[court]) < CLERKS_PER_COURT:
            user = await create_staff_user(
                engine,
                clock,
                username=f"clerk-{court_no}-{len(clerks[court])}",
                display_name=f"{rng.choice(SURNAMES)}书记员{len(clerks[court])}",
                roles=[Role.CLERK.value],
                courts=[court],
                password=generate_password(),
            )
            clerks[court].append(user.id)
    now = clock.now()
    api_key_id, endpoint_id = _id(now), _id(now)
    documents = [_id(now) for _ in range(40)]
    async with engine.begin() as conn:
        await conn.execute(
            schema.api_keys.insert(),
            {
                "id": api_key_id,
                "name": "case system",
                "prefix": "bench",
                "key_hash": "0" * 64,
                "courts": list(COURTS),
                "created_at": now - SPAN,
            },
        )
        await conn.execute(
            schema.webhook_endpoints.insert(),
            {
                "id": endpoint_id,
                "api_key_id": api_key_id,
                "url": "https://case-system.example/hooks",
                "secret": "whsec_" + "A" * 32,
                "event_types": None,
                "enabled": True,
                "created_at": now - SPAN,
            },
        )
        await conn.execute(
            schema.documents.insert(),
            [
                {
                    "id": d,
                    "api_key_id": api_key_id,
                    "sha256": _hex(rng),
                    "size": 20_000 + n,
                    "media_type": "application/pdf",
                    "title": f"文书{n}",
                    "kind": DOCUMENT_KINDS[n % len(DOCUMENT_KINDS)],
                    "created_at": now - SPAN,
                }
                for n, d in enumerate(documents)
            ],
        )
    return Staff(clerks, api_key_id, endpoint_id, documents)


async def _copy(engine: AsyncEngine, rows: Rows) -> None:
    async with engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for table in schema.metadata.sorted_tables:
            found = rows.tables.get(table.name)
            if not found:
                continue
            columns = [c.name for c in table.columns]
            await raw.copy_records_to_table(
                table.name,
                records=[tuple(r.get(c) for c in columns) for r in found],
                columns=columns,
            )


async def seed(engine: AsyncEngine, clock: Clock, n: int, seed: int = 6) -> Seeded:
    """Insert ``n`` dispatches with their history, then ``VACUUM ANALYZE`` (as autovacuum
    would after a day of work: planner statistics and the visibility map)."""
    rng = random.Random(seed)
    staff = await _staff(engine, clock, rng)
    generator = Generator(rng, staff, clock.now().astimezone(UTC), n)
    seeded = Seeded()
    copying: asyncio.Task[None] | None = None
    for start in range(0, n, CHUNK):
        # The next chunk is made (in a thread) while PostgreSQL copies the previous one.
        rows = await asyncio.to_thread(generator.chunk, start, min(n, start + CHUNK))
        if copying is not None:
            await copying
        copying = asyncio.create_task(_copy(engine, rows))
        seeded.add(rows)
    if copying is not None:
        await copying
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        await conn.execute(sa.text("VACUUM ANALYZE"))
    return seeded
