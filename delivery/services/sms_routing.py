"""The ``sms`` channel when SMS providers are configured: each message goes to the providers its
number's route names (``SONGDA_SMS_ROUTES``), in the order their health gives
(:mod:`delivery.services.sms_health`; docs/decisions/0044, 0045).

One try of an attempt may pass to the next provider only when the one before definitely did not
take the message (it answered with a refusal). A failure whose outcome is unknown — a timeout, a
broken answer, a worker that died while waiting — binds the attempt to that provider: it is sent
again only there, later, as any transient failure is, so no message goes out twice through two
providers. The answer names the provider used and the refusals before it; ``attempt_sent``
keeps both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from delivery.channel_api import (
    Channel,
    CodeMessage,
    ConfirmationRequestMessage,
    SendOutcome,
    SendResult,
    ServiceMessage,
)
from delivery.config_sms import SmsRouting
from delivery.services.sms_health import ProviderBoard
from delivery.vocabulary import SmsKind

Call = Callable[[Channel], Awaitable[SendResult]]


class SmsRouter:
    name = "sms"

    def __init__(
        self,
        providers: Mapping[str, Channel],
        routing: SmsRouting,
        board: ProviderBoard,
        polled: frozenset[str] = frozenset(),
    ) -> None:
        self.providers = dict(providers)
        self.routing = routing
        self.board = board
        self.polled = polled

    async def send(self, message: ServiceMessage) -> SendResult:
        return await self._route(
            message.address, SmsKind.SERVICE, message.attempt_id, lambda c: c.send(message)
        )

    async def send_code(self, message: CodeMessage) -> SendResult:
        return await self._route(
            message.address, SmsKind.CODE, None, lambda c: c.send_code(message)
        )

    async def send_confirmation_request(self, message: ConfirmationRequestMessage) -> SendResult:
        return await self._route(
            message.address,
            SmsKind.CONFIRMATION_REQUEST,
            None,
            lambda c: c.send_confirmation_request(message),
        )

    async def _route(
        self, number: str, kind: SmsKind, attempt_id: str | None, call: Call
    ) -> SendResult:
        bound = await self.board.bound_provider(attempt_id) if attempt_id else None
        if bound is not None and bound not in self.providers:
            return SendResult(SendOutcome.UNAVAILABLE, f"{bound}: the message may be there")
        listed = [str(p) for p in self.routing.providers_for(number) if p in self.providers]
        if bound is None and not listed:
            return SendResult(SendOutcome.UNAVAILABLE, "no configured SMS provider for the number")
        order = [bound] if bound is not None else await self.board.order(listed)
        refusals: list[str] = []
        for provider in order:
            send_id = await self.board.asked(provider, attempt_id, number, kind)
            result = await call(self.providers[provider])
            # Polls are for service messages (an attempt's receipt); a code's nobody awaits.
            polled = provider in self.polled and attempt_id is not None
            await self.board.answered(send_id, result, polled)
            result = dataclasses.replace(result, provider=provider, refusals=tuple(refusals))
            if result.outcome == SendOutcome.ACCEPTED or result.unknown:
                return result
            refusals.append(f"{provider}: {result.detail}"[:300])
        return result

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()
