"""Third-party time for chain checkpoints (docs/decisions/0021).

The checkpoint is recorded in the transaction that serves the dispatch, as before; with a TSA
configured, that transaction also writes a ``checkpoint_timestamps`` row (the checkpoint waits
for its token) and, once committed, enqueues :func:`timestamp_checkpoint`. The job asks the TSA
outside any lock, with a bounded timeout, checks the reply exactly as ``songda verify`` will
(:func:`tracking.timestamps.check_token`), and records a ``checkpoint_timestamped`` event with
the token in the dispatch's transaction. A TSA that is down or slow costs the job a retry later
(the row's ``next_attempt_at``, found by the sweep) and never delays service, webhooks or other
jobs. A checkpoint still without a token ``SONGDA_TSA_FLAG_HOURS`` after it was recorded flags
its dispatch in the clerk's queue, is logged once as a warning, and is counted by ``/healthz``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
from asn1crypto import x509

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.services.transactions import dispatch_transaction
from delivery.storage import checkpoint_timestamps as stamps
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType
from tracking.signing import checkpoint_data
from tracking.timestamps import (
    EVENT,
    Stamp,
    TokenError,
    check_token,
    load_certificates,
    timestamp_request,
    token_from_reply,
)

log = logging.getLogger(__name__)
SOURCE = "tsa"
CHECKPOINT_EVENT = EventType.CHAIN_CHECKPOINT
QUERY_TYPE = "application/timestamp-query"
MAX_REPLY = 1 << 20
# After a failed request: ask again after these delays, then every hour.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)


def record_checkpoint(ctx: Context, tx: DispatchTransaction, *, source: str) -> None:
    """Sign the chain as it stands (docs/decisions/0010) and, with a TSA configured, queue the
    checkpoint for its token — all in the caller's transaction."""
    tx.record(
        CHECKPOINT_EVENT,
        source=source,
        data=checkpoint_data(
            ctx.require_signing_key(), tx.dispatch.id, tx.chain_seq, tx.chain_head
        ),
    )
    if ctx.settings.tsa_url is None:
        return
    tx.execute_on_flush(
        stamps.insert_statement(
            dispatch_id=tx.dispatch.id,
            checkpoint_seq=tx.chain_seq,
            checkpoint_hash=tx.chain_head,
            checkpointed_at=tx.now,
            tries=0,
            next_attempt_at=tx.now,
        )
    )
    tx.followups.timestamps.append((tx.chain_seq, 0))


class TsaUnavailable(Exception):
    """The TSA gave no usable token this time (down, slow, refused, or a bad reply)."""


async def trusted_certificates(ctx: Context) -> list[x509.Certificate]:
    """The configured TSA certificate(s), read at each use so a renewed file needs no restart."""
    path = ctx.settings.tsa_cert_path
    if path is None:
        return []
    return load_certificates(await asyncio.to_thread(path.read_bytes))


async def fetch_token(
    http: aiohttp.ClientSession,
    url: str,
    wait_seconds: float,
    checkpoint_hash: str,
    checkpointed_at: datetime,
    trusted: Sequence[x509.Certificate],
) -> tuple[bytes, Stamp]:
    """Ask the TSA to stamp the checkpoint, waiting at most ``wait_seconds``; the token and
    what it says, once checked."""
    query, nonce = timestamp_request(checkpoint_hash)
    try:
        async with http.post(
            url,
            data=query,
            headers={"Content-Type": QUERY_TYPE},
            timeout=aiohttp.ClientTimeout(total=wait_seconds),
        ) as response:
            if response.status != 200:
                raise TsaUnavailable(f"HTTP {response.status}")
            reply = await response.content.read(MAX_REPLY + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TsaUnavailable(type(exc).__name__) from None
    if len(reply) > MAX_REPLY:
        raise TsaUnavailable("reply too large")
    try:
        token = token_from_reply(reply, nonce)
        return token, check_token(token, checkpoint_hash, checkpointed_at, trusted)
    except TokenError as exc:
        raise TsaUnavailable(str(exc)) from None


async def timestamp_checkpoint(
    ctx: Context, http: aiohttp.ClientSession, dispatch_id: str, checkpoint_seq: int
) -> bool:
    """Get and record the token of one checkpoint (idempotent: a checkpoint that has its token
    is left alone); whether a token was recorded now."""
    async with ctx.engine.connect() as conn:
        row = await stamps.checkpoint(conn, dispatch_id, checkpoint_seq)
    url = ctx.settings.tsa_url
    if row is None or row["timestamped_at"] is not None or url is None:
        return False
    try:
        token, stamp = await fetch_token(
            http,
            url,
            ctx.settings.tsa_timeout,
            row["checkpoint_hash"],
            row["checkpointed_at"],
            await trusted_certificates(ctx),
        )
    except TsaUnavailable as exc:
        await _retry_later(ctx, dispatch_id, checkpoint_seq, str(exc))
        return False
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        current = await stamps.checkpoint(tx.conn, dispatch_id, checkpoint_seq)
        if current is None or current["timestamped_at"] is not None:
            return False  # another worker recorded it meanwhile
        tx.record(
            EVENT,
            source=SOURCE,
            occurred_at=stamp.gen_time,
            data={
                "checkpoint_seq": checkpoint_seq,
                "checkpoint_hash": row["checkpoint_hash"],
                "tsa": stamp.tsa,
                "gen_time": rfc3339(stamp.gen_time),
                "token": base64.b64encode(token).decode("ascii"),
            },
        )
        tx.execute_on_flush(stamps.stamped_statement(dispatch_id, checkpoint_seq, tx.now))
    await ctx.queue.after_commit(tx.followups)
    log.info(
        "checkpoint timestamped",
        extra={"dispatch_id": dispatch_id, "checkpoint_seq": checkpoint_seq, "tsa": stamp.tsa},
    )
    return True


async def _retry_later(ctx: Context, dispatch_id: str, checkpoint_seq: int, reason: str) -> None:
    now = ctx.clock.now()
    async with ctx.engine.begin() as conn:
        row = await stamps.checkpoint(conn, dispatch_id, checkpoint_seq)
        if row is None or row["timestamped_at"] is not None:
            return
        tries = int(row["tries"]) + 1
        delay = RETRY_DELAYS[min(tries, len(RETRY_DELAYS)) - 1]
        await stamps.set_retry(conn, dispatch_id, checkpoint_seq, tries, now + delay)
    log.warning(
        "no token from the TSA; will ask again",
        extra={
            "dispatch_id": dispatch_id,
            "checkpoint_seq": checkpoint_seq,
            "tries": tries,
            "retry_at": rfc3339(now + delay),
            "reason": reason,
        },
    )


async def due_timestamps(ctx: Context, limit: int) -> list[tuple[str, int, int]]:
    """Checkpoints whose token is due to be asked for: (dispatch id, checkpoint seq, tries)."""
    if ctx.settings.tsa_url is None:
        return []
    return await stamps.due(ctx.engine, ctx.clock.now(), limit)


def flag_before(ctx: Context) -> datetime:
    """A checkpoint without its token made at or before this is overdue."""
    return ctx.clock.now() - ctx.settings.tsa_flag_after


async def flag_overdue(ctx: Context, limit: int) -> int:
    """Warn once (in the log) for each checkpoint that has waited too long for its token; how
    many were newly flagged. The clerk's queue and ``/healthz`` read the same condition."""
    rows = await stamps.flag_overdue(ctx.engine, flag_before(ctx), ctx.clock.now(), limit)
    for dispatch_id, seq, tries in rows:
        log.warning(
            "checkpoint still without third-party time: check the TSA (SONGDA_TSA_URL)",
            extra={
                "dispatch_id": dispatch_id,
                "checkpoint_seq": seq,
                "tries": tries,
                "flag_hours": ctx.settings.tsa_flag_hours,
            },
        )
    return len(rows)


async def overdue_count(ctx: Context) -> int:
    """How many checkpoints have waited longer than the flag window for their token."""
    return await stamps.overdue_count(ctx.engine, flag_before(ctx))
