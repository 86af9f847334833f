"""Recipient links (design.md, "Recipient links are signed, expiring, bound to one attempt")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracking.links import (
    BadToken,
    ExpiredToken,
    LinkClaims,
    issue_token,
    read_token,
    same_issuance,
    session_value,
)

SECRET = "s" * 40
ISSUED = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=UTC)
EXPIRES = datetime(2026, 4, 1, 1, 2, 3, tzinfo=UTC)
CLAIMS = LinkClaims("01JNQ3ATTEMPT0000000000000", ISSUED, EXPIRES)
NOW = ISSUED + timedelta(hours=1)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flip(token: str, part: int, position: int) -> str:
    """Replace one base64url character in the body (part 0) or signature (part 1)."""
    parts = token.split(".")
    text = parts[part]
    old = text[position]
    new = B64URL[(B64URL.index(old) + 17) % len(B64URL)]
    parts[part] = text[:position] + new + text[position + 1 :]
    return ".".join(parts)


def test_round_trip_gives_back_the_claims() -> None:
    claims = read_token(SECRET, issue_token(SECRET, CLAIMS), NOW)
    assert claims == CLAIMS
    assert claims.issued_at.microsecond == 456789


def test_token_is_two_url_safe_parts() -> None:
    token = issue_token(SECRET, CLAIMS)
    body, signature = token.split(".")
    assert set(body + signature) <= set(B64URL)


@pytest.mark.parametrize("part", [0, 1], ids=["body", "signature"])
@pytest.mark.parametrize("where", ["start", "middle"])
def test_flipped_character_is_a_bad_token(part: int, where: str) -> None:
    token = issue_token(SECRET, CLAIMS)
    length = len(token.split(".")[part])
    position = 0 if where == "start" else length // 2
    with pytest.raises(BadToken):
        read_token(SECRET, flip(token, part, position), NOW)


def test_token_signed_with_another_secret_is_bad() -> None:
    token = issue_token("o" * 40, CLAIMS)
    with pytest.raises(BadToken):
        read_token(SECRET, token, NOW)


def test_expired_token_with_a_foreign_signature_is_bad_not_expired() -> None:
    """Nothing about a foreign token is revealed, not even that it has expired."""
    token = issue_token("o" * 40, CLAIMS)
    with pytest.raises(BadToken):
        read_token(SECRET, token, EXPIRES + timedelta(days=1))


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c", "é.x", "!!!.???", ".", "abc."], ids=repr)
def test_malformed_token_is_bad(token: str) -> None:
    with pytest.raises(BadToken):
        read_token(SECRET, token, NOW)


@pytest.mark.parametrize("now", [EXPIRES, EXPIRES + timedelta(seconds=1)], ids=["at", "after"])
def test_token_at_or_after_expiry_is_expired(now: datetime) -> None:
    with pytest.raises(ExpiredToken):
        read_token(SECRET, issue_token(SECRET, CLAIMS), now)


def test_token_just_before_expiry_is_read() -> None:
    claims = read_token(SECRET, issue_token(SECRET, CLAIMS), EXPIRES - timedelta(microseconds=1))
    assert claims.attempt_id == CLAIMS.attempt_id


def test_same_issuance_compares_to_the_microsecond_across_zones() -> None:
    shanghai = ISSUED.astimezone(timezone(timedelta(hours=8)))
    assert same_issuance(ISSUED, shanghai)
    assert same_issuance(ISSUED, read_token(SECRET, issue_token(SECRET, CLAIMS), NOW).issued_at)
    assert not same_issuance(ISSUED, ISSUED + timedelta(microseconds=1))
    assert not same_issuance(None, ISSUED)


def test_reissued_link_has_a_different_issuance() -> None:
    reissued = LinkClaims(CLAIMS.attempt_id, ISSUED + timedelta(minutes=5), EXPIRES)
    claims = read_token(SECRET, issue_token(SECRET, reissued), NOW)
    assert not same_issuance(ISSUED, claims.issued_at)


def test_session_value_is_bound_to_issuance_attempt_and_secret() -> None:
    base = session_value(SECRET, "a1", ISSUED)
    assert session_value(SECRET, "a1", ISSUED) == base
    assert session_value(SECRET, "a1", ISSUED + timedelta(microseconds=1)) != base
    assert session_value(SECRET, "a2", ISSUED) != base
    assert session_value("o" * 40, "a1", ISSUED) != base


def test_session_value_is_not_the_link_signature() -> None:
    """Purpose-separated keys: a cookie value never doubles as a link signature."""
    signature = issue_token(SECRET, CLAIMS).split(".")[1]
    assert session_value(SECRET, CLAIMS.attempt_id, ISSUED) != signature


def _last_char_low_bit_flipped(token: str) -> str:
    body, signature = token.split(".")
    last = B64URL[B64URL.index(signature[-1]) ^ 1]
    return f"{body}.{signature[:-1]}{last}"


@pytest.mark.parametrize(
    "alter", [_last_char_low_bit_flipped, lambda t: t + "="], ids=["last-char", "padding"]
)
def test_non_canonical_token_text_is_a_bad_token(alter: Callable[[str], str]) -> None:
    token = issue_token(SECRET, CLAIMS)
    assert alter(token) != token
    with pytest.raises(BadToken):
        read_token(SECRET, alter(token), NOW)
