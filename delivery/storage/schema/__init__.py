"""The database schema (SQLAlchemy Core). Alembic migrations create exactly these tables.

One module per entity, all on the one ``metadata`` of :mod:`.base`; every table is named here,
so ``from delivery.storage.schema import dispatches`` reads the same wherever the table is
defined (and importing the package defines them all, so foreign keys by name resolve).
"""

from delivery.storage.schema.access import api_keys, staff_sessions, staff_users
from delivery.storage.schema.attempt import attempts
from delivery.storage.schema.audit import contact_reveals
from delivery.storage.schema.base import UtcDateTime, metadata
from delivery.storage.schema.batch import batch_rows, batches
from delivery.storage.schema.confirmation import address_confirmations, case_groups
from delivery.storage.schema.dispatch import (
    contacts,
    dispatch_documents,
    dispatches,
    documents,
    media_files,
)
from delivery.storage.schema.event import (
    events,
    outbox_messages,
    outcome_tallies,
    outcome_tally_changes,
    outcome_tally_zone,
    service_outcomes,
    webhook_deliveries,
    webhook_endpoints,
)
from delivery.storage.schema.field_task import field_tasks
from delivery.storage.schema.notice import notice_publications, notices
from delivery.storage.schema.postal import carrier_events, postal_pieces
from delivery.storage.schema.proof import certificates, checkpoint_timestamps, notice_codes
from delivery.storage.schema.sms import sms_provider_states, sms_provider_switches, sms_sends
from delivery.storage.schema.worker import workers

__all__ = [
    "UtcDateTime",
    "address_confirmations",
    "api_keys",
    "attempts",
    "batch_rows",
    "batches",
    "carrier_events",
    "case_groups",
    "certificates",
    "checkpoint_timestamps",
    "contact_reveals",
    "contacts",
    "dispatch_documents",
    "dispatches",
    "documents",
    "events",
    "field_tasks",
    "media_files",
    "metadata",
    "notice_codes",
    "notice_publications",
    "notices",
    "outbox_messages",
    "outcome_tallies",
    "outcome_tally_changes",
    "outcome_tally_zone",
    "postal_pieces",
    "service_outcomes",
    "sms_provider_states",
    "sms_provider_switches",
    "sms_sends",
    "staff_sessions",
    "staff_users",
    "webhook_deliveries",
    "webhook_endpoints",
    "workers",
]
