"""Everything a service needs, built once per process and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.channel_api import Channel
from delivery.clock import Clock, SystemClock
from delivery.config import Settings
from delivery.infra.document_store import DocumentStore
from delivery.infra.outages import Outages
from delivery.infra.rate_limits import RateLimiter
from delivery.jobs.acceptance_journal import AcceptanceJournal
from delivery.jobs.job_queue import JobQueue
from delivery.jobs.liveness import WorkerLiveness
from delivery.storage.dispatch_batches import DispatchBatches
from escalation.calendar import HolidayCalendar, load_calendar
from escalation.policy import PolicyBook, load_policy_book
from tracking.court_certificates import SigningIdentity
from tracking.signing import SigningKey

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


@dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    queue: JobQueue
    documents: DocumentStore
    channels: dict[str, Channel] = field(default_factory=dict)
    calendar: HolidayCalendar = field(default_factory=load_calendar)
    policies: PolicyBook = field(default_factory=load_policy_book)
    # The court's active signing key (SONGDA_KEYS_DIR), loaded once at start: it signs the
    # chain checkpoint recorded at service and evidence-bundle manifests.
    signing_key: SigningKey | None = None
    # The active key set's PDF-signing key and X.509 chain (loaded with it): signs the stored
    # certificate PDFs (PAdES), with an RFC 3161 token from ``timestamper`` when there is one.
    signing_identity: SigningIdentity | None = None
    timestamper: TimeStamper | None = None
    # Operational time (worker heartbeats, staff sessions), never legal time: the real clock
    # even where ``clock`` is the sandbox's shifted one or a test's frozen one
    # (docs/decisions/0024, 0033).
    wall_clock: Clock = field(default_factory=SystemClock)
    # Set by a worker process when it starts (delivery/jobs/upkeep.py): its heartbeat and
    # its journal of provider acceptances not yet in the database.
    liveness: WorkerLiveness | None = None
    journal: AcceptanceJournal | None = None
    outages: Outages = field(default_factory=Outages)

    @cached_property
    def dispatch_batches(self) -> DispatchBatches:
        """The process's group commit of dispatch transactions (the send worker's claims and
        receipts), on this context's database."""
        return DispatchBatches(lambda: self.engine)

    @cached_property
    def limits(self) -> RateLimiter:
        """Rate limits and login throttles, in the queue's Redis under the queue's name, so
        every process of the deployment shares them (docs/decisions/0026)."""
        return RateLimiter(self.queue.pool, f"{self.settings.queue_name}:limits", self.clock)

    def require_signing_key(self) -> SigningKey:
        if self.signing_key is None:
            raise RuntimeError("no court signing key loaded: run `songda keys create`")
        return self.signing_key

    def require_signing_identity(self) -> SigningIdentity:
        if self.signing_identity is None:
            raise RuntimeError("no PDF signing certificate loaded: run `songda keys create`")
        return self.signing_identity
