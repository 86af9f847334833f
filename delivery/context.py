"""Everything a service needs, built once per process and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.channel_api import Channel
from delivery.clock import Clock
from delivery.config import Settings
from delivery.document_store import DocumentStore
from delivery.queue import JobQueue
from escalation.calendar import HolidayCalendar, load_calendar
from escalation.policy import PolicyBook, load_policy_book
from tracking.signing import SigningKey


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

    def require_signing_key(self) -> SigningKey:
        if self.signing_key is None:
            raise RuntimeError("no court signing key loaded: run `songda keys create`")
        return self.signing_key
