"""The database as the service needs it, made so before it serves (``songda db upgrade``, and
``songda run`` as it starts): each step is a no-op when it was done already."""

from __future__ import annotations

from delivery.config import Settings
from delivery.services.webhook_secrets import seal_plaintext
from delivery.storage.engine import Engine
from delivery.storage.migrate import upgrade
from delivery.storage.outcome_tallies import keep_tallies_in


async def prepare_database(engine: Engine, settings: Settings) -> None:
    """At the newest migration; no webhook secret left in plaintext (the migration cannot seal
    them without the key); the outcome tallies kept in the configured time zone, the one the
    reports count days in (tallied anew after the first upgrade to 0022 or a change of
    SONGDA_TIME_ZONE: docs/decisions/0060)."""
    await upgrade(engine)
    await seal_plaintext(engine, settings.secret_box)
    await keep_tallies_in(engine, settings.zone)
