"""``songda sms-providers``: each SMS provider's standing in the failover and the latest switches
between standings, with the reason and the figures each was decided on (docs/decisions/0045)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from delivery.cli.language import _
from delivery.clock import rfc3339
from delivery.config import DatabaseSettings
from delivery.services.sms_health import Standings, provider_standings

COMMAND = "sms-providers"


def add_parser(commands: Any) -> None:
    commands.add_parser(
        COMMAND, help=_("the SMS providers' standings in the failover and the latest switches")
    )


def run(settings: DatabaseSettings) -> int:
    from delivery.storage.engine import create_engine

    async def load() -> Standings:
        engine = create_engine(settings.database_url)
        try:
            return await provider_standings(engine)
        finally:
            await engine.dispose()

    found = asyncio.run(load())
    if not found.states:
        print(_("no SMS provider has sent anything yet"))
        return 0
    for provider, (state, since) in sorted(found.states.items()):
        print(
            _(
                "%(provider)s: %(state)s since %(since)s",
                provider=provider,
                state=state,
                since=rfc3339(since),
            )
        )
    if found.switches:
        print(_("Latest switches (newest first):"))
    for switch in found.switches:
        figures = json.dumps(switch.figures, sort_keys=True)
        print(
            f"{rfc3339(switch.at)}  {switch.provider}  {switch.from_state} → {switch.to_state}"
            f"  {switch.reason}  {figures}"
        )
    return 0
