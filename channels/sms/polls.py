"""Asking Alibaba Cloud about messages whose delivery report has not come (QuerySendDetails):
the fallback for pushes that are lost or never configured.

A message accepted by Alibaba is due for a poll ``SONGDA_SMS_POLL_AFTER_MINUTES`` after sending
(delivery/services/sms_health.py schedules it); a push arriving first cancels it. The sweep
claims due polls by moving each one on (so a second sweep does not take it, and a lost job is
retried at the next interval) and enqueues one job per message. An answer is recorded exactly as
the push would have been (channels/sms/receipts.py), dated by the carrier's time, so a push
arriving after a poll, or the reverse, changes nothing.
"""

from __future__ import annotations

import logging

from channels.sms.aliyun import AliyunSmsChannel
from channels.sms.aliyun_hooks import report_status
from channels.sms.receipts import record_sms_report
from delivery.context import Context
from delivery.domain import Attempt
from delivery.services.sms_routing import SmsRouter
from delivery.storage import sms_sends
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, SmsProvider

log = logging.getLogger(__name__)
POLL_BATCH = 100


def _aliyun(ctx: Context) -> AliyunSmsChannel | None:
    router = ctx.channels.get(Channel.SMS)
    if not isinstance(router, SmsRouter):
        return None
    provider = router.providers.get(SmsProvider.ALIYUN)
    return provider if isinstance(provider, AliyunSmsChannel) else None


async def nothing_to_track(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, provider_ref: str | None
) -> None:
    """The router already scheduled the poll when Alibaba accepted the message."""


async def claim_due_polls(ctx: Context) -> list[tuple[str, str]]:
    """Due polls, each claimed: (send id, Alibaba's BizId)."""
    if _aliyun(ctx) is None:
        return []
    health = ctx.settings.sms_routing.health
    now = ctx.clock.now()
    claimed: list[tuple[str, str]] = []
    for send_id, _attempt, biz_id, _number, sent_at in await sms_sends.due_polls(
        ctx.engine, SmsProvider.ALIYUN, now, POLL_BATCH
    ):
        give_up = sent_at + health.poll_for <= now
        next_poll_at = None if give_up else now + health.poll_after
        if await sms_sends.claim_poll(ctx.engine, send_id, now, next_poll_at) and not give_up:
            claimed.append((send_id, biz_id))
    return claimed


async def poll_receipt(ctx: Context, send_id: str, biz_id: str) -> None:
    """Ask Alibaba about one message and record what it says (idempotent: the receipts rules
    record a repeated report once)."""
    channel = _aliyun(ctx)
    row = await sms_sends.send_of(ctx.engine, send_id)
    if channel is None or row is None:
        return
    try:
        reports = await channel.query(row.address, biz_id, row.started_at)
    except Exception as exc:
        log.warning(
            "sms receipt poll failed", extra={"attempt_id": row.attempt_id, "error": str(exc)}
        )
        return
    for report in reports:
        if report.delivered is None:
            continue
        item = {
            "biz_id": biz_id,
            "success": report.delivered,
            "err_code": report.err_code,
            "report_time": report.raw.get("receive_date"),
            **report.raw,
        }
        await record_sms_report(ctx, report_status(item))
