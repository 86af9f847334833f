"""Masked addresses (delivery/identity.py): recognisable, not harvestable; a public notice has no
address to mask (issue 14: it read ``*********tice``)."""

from __future__ import annotations

from delivery.identity import mask_address
from delivery.vocabulary import Channel


def test_contacts_are_masked_and_a_public_notice_is_not() -> None:
    assert mask_address(Channel.EMAIL, "zhang.san@example.com") == "zh***@example.com"
    assert mask_address(Channel.SMS, "+8613800138000") == "**********8000"
    assert mask_address(Channel.PUBLIC_NOTICE, "public_notice") == "public_notice"
