"""Identity numbers are stored as a keyed HMAC plus the last 4 characters (design.md)."""

from __future__ import annotations

import hashlib

import pytest

from delivery.identity import identity_digest, identity_last4, normalise_identity

SECRET = "k" * 40
ID_NUMBER = "11010119900307123X"


def test_digest_is_hex_sha256_sized_and_deterministic() -> None:
    digest = identity_digest(SECRET, ID_NUMBER)
    assert len(digest) == 64
    int(digest, 16)
    assert identity_digest(SECRET, ID_NUMBER) == digest


def test_digest_is_keyed() -> None:
    assert identity_digest(SECRET, ID_NUMBER) != identity_digest("j" * 40, ID_NUMBER)


def test_digest_is_not_a_plain_hash() -> None:
    plain = hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    assert identity_digest(SECRET, ID_NUMBER) != plain


def test_digest_differs_per_number() -> None:
    assert identity_digest(SECRET, ID_NUMBER) != identity_digest(SECRET, "110101199003071234")


@pytest.mark.parametrize(
    "variant", ["11010119900307123x", "110101 19900307 123X", " 1101011990\t0307123x\n"]
)
def test_digest_normalises_spaces_and_case(variant: str) -> None:
    assert identity_digest(SECRET, variant) == identity_digest(SECRET, ID_NUMBER)


@pytest.mark.parametrize(
    ("value", "last4"),
    [(ID_NUMBER, "123X"), ("11010119900307123x", "123X"), ("1101 0119 9003 0712 3x", "123X")],
)
def test_identity_last4(value: str, last4: str) -> None:
    assert identity_last4(value) == last4


def test_normalise_identity() -> None:
    assert normalise_identity(" 110 101\u3000x ") == "110101X"
