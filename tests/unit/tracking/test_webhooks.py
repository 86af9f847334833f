"""Outbound webhooks follow the Standard Webhooks spec (design.md, "Conventions")."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tracking.webhooks import (
    RETRY_SCHEDULE,
    PostResult,
    new_secret,
    next_delay,
    sign,
    signed_headers,
)

BODY = json.dumps({"type": "dispatch.served", "data": {"id": "d1", "court": "法院"}}).encode()
MESSAGE_ID = "01JNQ3MESSAGE0000000000000"


def now() -> int:
    return int(time.time())


def test_new_secret_is_whsec_with_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_signed_headers_verify_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = signed_headers(secret, MESSAGE_ID, now(), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["content-type"] == "application/json"


def test_sign_matches_the_reference_implementation() -> None:
    secret = new_secret()
    timestamp = now()
    signature = sign(secret, MESSAGE_ID, timestamp, BODY)
    assert signature.startswith("v1,")
    headers = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize(
    ("body", "secret", "message_id"),
    [
        (BODY + b" ", None, MESSAGE_ID),
        (BODY, new_secret(), MESSAGE_ID),
        (BODY, None, "another-id"),
    ],
    ids=["changed-body", "other-secret", "other-id"],
)
def test_verification_fails_when_anything_differs(
    body: bytes, secret: str | None, message_id: str
) -> None:
    signing_secret = new_secret()
    headers = signed_headers(signing_secret, MESSAGE_ID, now(), BODY)
    headers["webhook-id"] = message_id
    with pytest.raises(WebhookVerificationError):
        Webhook(secret or signing_secret).verify(body, headers)


def test_retry_schedule_is_the_standard_webhooks_one() -> None:
    minutes, hours = timedelta(minutes=1), timedelta(hours=1)
    expected = (
        timedelta(0),
        timedelta(seconds=5),
        5 * minutes,
        30 * minutes,
        2 * hours,
        5 * hours,
        10 * hours,
        14 * hours,
        20 * hours,
        24 * hours,
    )
    assert expected == RETRY_SCHEDULE


def test_retry_schedule_lasts_about_three_days() -> None:
    total = sum(RETRY_SCHEDULE, timedelta(0))
    assert timedelta(days=2.5) <= total <= timedelta(days=3.5)


@pytest.mark.parametrize("tries_done", range(len(RETRY_SCHEDULE)))
def test_next_delay_follows_the_schedule(tries_done: int) -> None:
    assert next_delay(tries_done, None, 0.0) == RETRY_SCHEDULE[tries_done]
    assert next_delay(tries_done, None, 0.2) == RETRY_SCHEDULE[tries_done] * 1.2


@pytest.mark.parametrize("tries_done", [len(RETRY_SCHEDULE), len(RETRY_SCHEDULE) + 5])
def test_next_delay_is_none_when_the_schedule_is_used_up(tries_done: int) -> None:
    assert next_delay(tries_done, timedelta(seconds=30), 0.0) is None


def test_next_delay_honours_a_longer_retry_after() -> None:
    assert next_delay(1, timedelta(minutes=10), 0.0) == timedelta(minutes=10)
    assert next_delay(4, timedelta(minutes=10), 0.0) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("status", "delivered", "gone"),
    [(200, True, False), (204, True, False), (410, False, True), (500, False, False)],
)
def test_post_result_outcome(status: int, delivered: bool, gone: bool) -> None:
    result = PostResult(status, None)
    assert (result.delivered, result.gone) == (delivered, gone)


def test_post_result_without_response_is_not_delivered() -> None:
    result = PostResult(None, "ClientConnectorError: refused")
    assert not result.delivered
    assert not result.gone
