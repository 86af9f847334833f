"""The clerk's queue (read side): dispatches of the account's courts, filtered, newest first, with
what needs a person on each row.

One page costs a fixed number of queries whatever its size (docs/decisions/0014): the page of
dispatches, the counts per state, the dispatches that may need action (the database decides
every flag but the step window's, so they are counted without reading their facts: the default
view, decisions 0036 and 0058), then, for the page's rows only, one batched query each for their
open attempts, flag events (``dispatch_at_risk``, a certificate blocked by a character outside
the fonts), notices awaiting approval, failed webhook deliveries, checkpoints still without
third-party time and owners' names. Overdue needs no query: it is computed from the row and the
policy, as the ladder does.

Dates in the filter are days in the court's zone; a range ``from``–``to`` includes both days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from delivery.context import Context
from delivery.domain import RESUMABLE_FAILURES, Dispatch, DispatchState
from delivery.services.certificates import BLOCKED_EVENT, CERTIFICATE_EVENTS, ISSUED_EVENT
from delivery.services.timestamps import flag_before
from delivery.storage import checkpoint_timestamps, queries, staff
from delivery.storage import queue_facts as facts
from delivery.storage.engine import READ_ONLY, Connection, one_snapshot, planned_per_filter
from delivery.vocabulary import EventType, NoticeState
from escalation.calendar import CourtDays
from escalation.decide import step_deadline
from escalation.policy import KNOWN_CHANNELS

AT_RISK_EVENT = EventType.DISPATCH_AT_RISK
FLAG_EVENTS = (AT_RISK_EVENT, *CERTIFICATE_EVENTS)
CHANNEL_UNAVAILABLE = "channel_unavailable"


@dataclass(frozen=True)
class QueueFilter:
    """What the clerk asked for. ``courts`` are the account's (narrowed by ``court``)."""

    courts: tuple[str, ...]
    court: str | None = None
    state: str | None = None
    channel: str | None = None
    owner_id: str | None = None
    case_number: str | None = None
    recipient: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    served_from: date | None = None
    served_to: date | None = None
    before_id: str | None = None
    limit: int = 50
    # Only the dispatches that need a person (the queue's default view).
    needs_action: bool = False

    def storage_filter(self, zone: tzinfo) -> queries.DispatchFilter:
        """The same filter as UTC instants; one more row than the page, to know of a next."""
        return queries.DispatchFilter(
            courts=tuple(c for c in self.courts if self.court in (None, c)),
            state=self.state,
            case_number=self.case_number,
            owner_id=self.owner_id,
            recipient_prefix=self.recipient,
            channel=self.channel,
            created_from=day_start(self.created_from, zone),
            created_to=day_start(_next(self.created_to), zone),
            served_from=day_start(self.served_from, zone),
            served_to=day_start(_next(self.served_to), zone),
            before_id=self.before_id,
            limit=self.limit + 1,
        )


def _next(day: date | None) -> date | None:
    return None if day is None else day + timedelta(days=1)


def day_start(day: date | None, zone: tzinfo) -> datetime | None:
    """Midnight of ``day`` in the court's zone (the first instant of that court day)."""
    return None if day is None else datetime.combine(day, time(), tzinfo=zone)


@dataclass(frozen=True)
class OpenAttempt:
    channel: str
    state: str
    reason: str | None


@dataclass
class QueueRow:
    """One dispatch and the facts that say whether it needs a person."""

    dispatch: Dispatch
    owner_name: str | None = None
    open_attempts: list[OpenAttempt] = field(default_factory=list)
    window_ends_at: datetime | None = None  # the step under way's window (None: untimed)
    window_passed: bool = False
    deadline_passed: bool = False  # the service deadline (from the hearing) passed unserved
    at_risk: bool = False
    # Served, but its certificate cannot be drawn (a character no font covers; decision 0019).
    certificate_blocked: bool = False
    notice_id: str | None = None  # a draft notice awaiting a supervisor's approval
    webhook_failures: int = 0
    # A chain checkpoint still without its RFC 3161 token after SONGDA_TSA_FLAG_HOURS.
    timestamp_overdue: bool = False

    @property
    def channels(self) -> list[str]:
        """The channels of the open attempts, each once, in the order they were started; for a
        served dispatch, the channel that served it. Its serving attempt is often closed by then
        (``read``, a signed visit), and other attempts of the step may still be open without
        having served: either way the open attempts would name the wrong channel, or none."""
        if self.dispatch.state == DispatchState.SERVED and self.dispatch.served_by_channel:
            return [self.dispatch.served_by_channel]
        return list(dict.fromkeys(a.channel for a in self.open_attempts))

    @property
    def channel_unavailable(self) -> bool:
        return any(a.reason == CHANNEL_UNAVAILABLE for a in self.open_attempts)

    @property
    def overdue(self) -> bool:
        return self.window_passed or self.deadline_passed

    @property
    def awaiting_policy(self) -> bool:
        """Failed for a reason a new policy resolves (CPL-INT-140: the case must first convert
        to ordinary procedure); a clerk switches the policy when it has."""
        d = self.dispatch
        return d.state == DispatchState.FAILED and d.state_reason in RESUMABLE_FAILURES

    @property
    def needs_action(self) -> bool:
        return (
            self.overdue
            or self.awaiting_policy
            or self.at_risk
            or self.notice_id is not None
            or self.webhook_failures > 0
            or self.channel_unavailable
            or self.certificate_blocked
            or self.timestamp_overdue
        )


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    counts: queries.StateCounts  # per state (up to MAX_STATE_COUNT), the filter without its state
    next_cursor_id: str | None  # the last id of this page when there is a next one
    # How many need a person, for the filter without its state; at most MAX_NEEDS_ACTION
    # (``needs_action_more`` when there are more).
    needs_action: int = 0
    needs_action_more: bool = False


CHANNELS = tuple(sorted(KNOWN_CHANNELS))
STATES = tuple(s.value for s in DispatchState)
# Each state's count stops here ("1000+", as the needs-action count does): counting every row
# of a broad filter on every page cost up to 0.7 s at a million dispatches (decision 0054).
MAX_STATE_COUNT = 1000
# The needs-action count reads the candidates (facts.needs_action_candidates, the database
# deciding their flags, decision 0058) until more than this many need action; then it reads
# "1000+" (decision 0036). It sets how many candidates a page reads: the largest part of a
# broad filter's time (decisions 0054, 0058).
MAX_NEEDS_ACTION = 1000
# A date range that ended longer ago than this is first read as the ids it spans (_ends_back).
RECENT_RANGE_END = timedelta(days=1)
# The candidates read at most: the needs-action view pages through those of them that need
# action (decision 0036).
CANDIDATE_WINDOW = 2000
# How many the first batch reads: most candidates need action (92 % in bench/workspace.py), so
# a margin over MAX_NEEDS_ACTION usually settles the count in one batch.
FIRST_CANDIDATES = MAX_NEEDS_ACTION * 6 // 5


def empty_page() -> QueuePage:
    """What a refused filter shows: nothing found, nothing counted."""
    return QueuePage(rows=[], counts=queries.StateCounts({}, MAX_STATE_COUNT), next_cursor_id=None)


async def queue_page(ctx: Context, flt: QueueFilter) -> QueuePage:
    """The page ``flt`` asks for, its counts per state, how many need action and each row's
    facts. The needs-action count is always shown (issue 14: counts per state alone said
    "queued 0" while rows needed a person). Only the page's rows have their facts read: the
    count is of the candidates the database flags (decision 0058)."""
    storage = flt.storage_filter(ctx.settings.zone)
    rules = _rules(ctx)  # one instant for the count and the rows' flags
    async with ctx.engine.connect() as conn:
        conn = await one_snapshot(await conn.execution_options(**READ_ONLY))
        await planned_per_filter(conn)
        if _ends_back(storage, rules.now):
            storage = replace(storage, id_window=await queries.id_window(conn, storage))
        counts = await queries.count_by_state(conn, storage, STATES, MAX_STATE_COUNT)
        found = [] if flt.needs_action else await _listed(conn, storage, counts)
        needing = await _needing(ctx, conn, flt, storage, rules)
        if flt.needs_action:
            matching = _matching(flt, needing)
            found = await _dispatches(conn, [c.id for c in matching[: flt.limit + 1]], storage)
        rows = [QueueRow(d) for d in found[: flt.limit]]
        await _add_all_facts(ctx, conn, rows, rules)
    return QueuePage(
        rows=rows,
        counts=counts,
        next_cursor_id=rows[-1].dispatch.id if len(found) > flt.limit else None,
        needs_action=min(len(needing), MAX_NEEDS_ACTION),
        needs_action_more=len(needing) > MAX_NEEDS_ACTION,
    )


async def _listed(
    conn: Connection, storage: queries.DispatchFilter, counts: queries.StateCounts
) -> list[Dispatch]:
    """The list view's dispatches. A state the counts found none of needs no query; one found
    under the cap is read as the few it is (``queries.list_dispatches``)."""
    if storage.state is None or storage.state in counts.over_cap:
        return await queries.list_dispatches(conn, storage)
    if not counts.counts.get(storage.state):
        return []
    return await queries.list_dispatches(conn, storage, few=True)


async def _dispatches(
    conn: Connection, ids: list[str], storage: queries.DispatchFilter
) -> list[Dispatch]:
    """The dispatches ``ids`` (of the filter's courts), newest first."""
    found = await facts.dispatches_in_courts(conn, ids, storage.courts)
    return sorted(found, key=lambda d: d.id, reverse=True)


def _ends_back(f: queries.DispatchFilter, now: datetime) -> bool:
    """The filter has a date range that ended over RECENT_RANGE_END ago: newest first, every
    dispatch since lies between the newest and the range, so the range's ids are read first
    (queries.id_window). A range ending later starts among the newest dispatches."""
    return any(end < now - RECENT_RANGE_END for end in (f.created_to, f.served_to) if end)


def _matching(flt: QueueFilter, needing: list[facts.Candidate]) -> list[facts.Candidate]:
    """The needs-action view's dispatches: those of ``needing`` in the filter's state, after
    its cursor."""
    return [
        c
        for c in needing
        if flt.state in (None, c.state) and (flt.before_id is None or c.id < flt.before_id)
    ]


async def _needing(
    ctx: Context,
    conn: Connection,
    flt: QueueFilter,
    storage: queries.DispatchFilter,
    rules: facts.NeedsActionFacts,
) -> list[facts.Candidate]:
    """The dispatches of the filter (without its state and cursor) that need a person, newest
    first, among the first CANDIDATE_WINDOW that may. Read in batches: once more than
    MAX_NEEDS_ACTION need action and the needs-action view's page is full, the candidates
    further back can change neither the count ("1000+") nor the page, so they are not read
    (decision 0054). A candidate the database flags needs action; one whose step timer alone
    ran out does if its window, counted in court days, has passed (decision 0058)."""
    court_days = CourtDays(ctx.calendar, ctx.settings.zone)
    candidates_filter = replace(storage, state=None, before_id=None)
    needing: list[facts.Candidate] = []
    read, size = 0, FIRST_CANDIDATES + flt.limit
    while True:
        size = min(size, CANDIDATE_WINDOW - read)
        batch = await facts.needs_action_candidates(conn, candidates_filter, rules, size)
        read += len(batch)
        needing += [c for c in batch if c.certain or _window_passed(ctx, c, rules.now, court_days)]
        enough = len(needing) > MAX_NEEDS_ACTION and (
            not flt.needs_action or len(_matching(flt, needing)) > flt.limit
        )
        if enough or len(batch) < size or read >= CANDIDATE_WINDOW:
            return needing
        candidates_filter = replace(candidates_filter, before_id=batch[-1].id)
        size = CANDIDATE_WINDOW


def _window_passed(ctx: Context, c: facts.Candidate, now: datetime, court_days: CourtDays) -> bool:
    """The candidate's step window has ended (as :func:`_add_deadlines` reads it for a row)."""
    ends = _window_ends_at(ctx, c.policy, c.court, c.step_index, c.step_started_at, court_days)
    return ends is not None and ends <= now


def _rules(ctx: Context) -> facts.NeedsActionFacts:
    """The flags of :class:`QueueRow` as the database can look for them."""
    return facts.NeedsActionFacts(
        now=ctx.clock.now(),
        flag_before=flag_before(ctx),
        open_flag_events=(AT_RISK_EVENT,),
        cleared_flags=((BLOCKED_EVENT, ISSUED_EVENT),),
        waiting_reason=CHANNEL_UNAVAILABLE,
        resumable_failures=tuple(RESUMABLE_FAILURES),
    )


async def _add_all_facts(
    ctx: Context, conn: Connection, rows: list[QueueRow], rules: facts.NeedsActionFacts
) -> None:
    """Every fact of ``rows``: the batched queries, then what the clock (at the instant the
    count used) and the policy say."""
    if rows:
        await _add_facts(conn, rows)
        by_id = {r.dispatch.id: r for r in rows}
        for dispatch_id in await checkpoint_timestamps.overdue_among(
            conn, list(by_id), rules.flag_before
        ):
            by_id[dispatch_id].timestamp_overdue = True
    now = rules.now
    court_days = CourtDays(ctx.calendar, ctx.settings.zone)
    for row in rows:
        _add_deadlines(ctx, row, now, court_days)


async def _add_facts(conn: Connection, rows: list[QueueRow]) -> None:
    """Batched queries for the whole page (never one per row)."""
    by_id = {r.dispatch.id: r for r in rows}
    ids = list(by_id)
    for dispatch_id, channel, state, reason in await facts.open_attempts(conn, ids):
        by_id[dispatch_id].open_attempts.append(OpenAttempt(channel, state, reason))
    latest: dict[str, dict[str, int]] = defaultdict(dict)  # dispatch → flag event type → seq
    for dispatch_id, event_type, seq in await facts.latest_events(conn, ids, FLAG_EVENTS):
        latest[dispatch_id][event_type] = int(seq)
    for dispatch_id, seqs in latest.items():
        row = by_id[dispatch_id]
        row.at_risk = AT_RISK_EVENT in seqs and row.dispatch.is_open
        row.certificate_blocked = seqs.get(BLOCKED_EVENT, -1) > seqs.get(ISSUED_EVENT, -1)
    for dispatch_id, notice_id in await facts.notices_in_state(conn, ids, NoticeState.DRAFT):
        if by_id[dispatch_id].dispatch.state == DispatchState.NOTICE_PENDING:
            by_id[dispatch_id].notice_id = notice_id
    for dispatch_id, failures in await facts.failed_deliveries(conn, ids):
        by_id[dispatch_id].webhook_failures = int(failures)
    owners: dict[str, list[QueueRow]] = defaultdict(list)
    for row in rows:
        if row.dispatch.owner_id is not None:
            owners[row.dispatch.owner_id].append(row)
    if owners:
        for owner_id, name in await staff.display_names(conn, list(owners)):
            for row in owners[owner_id]:
                row.owner_name = name


def _add_deadlines(ctx: Context, row: QueueRow, now: datetime, court_days: CourtDays) -> None:
    """Overdue: an open dispatch whose step window has ended without the ladder moving on, or
    whose service deadline (the hearing's, CPL-139) has passed unserved."""
    d = row.dispatch
    if not d.is_open:
        return
    row.window_ends_at = _window_ends_at(
        ctx, d.policy, d.court, d.step_index, d.step_started_at, court_days
    )
    row.window_passed = row.window_ends_at is not None and row.window_ends_at <= now
    row.deadline_passed = d.service_deadline_at is not None and d.service_deadline_at <= now


def _window_ends_at(
    ctx: Context,
    policy: str,
    court: str,
    step_index: int | None,
    step_started_at: datetime | None,
    court_days: CourtDays,
) -> datetime | None:
    """When the window of the step under way ends (None: no step, or an untimed one)."""
    if step_index is None or step_started_at is None:
        return None
    steps = ctx.policies.get(policy, court).steps
    if step_index < len(steps) and steps[step_index].timed:
        return step_deadline(step_started_at, steps[step_index], court_days)
    return None
