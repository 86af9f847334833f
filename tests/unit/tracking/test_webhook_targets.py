"""The operator's allow-list (docs/decisions/0028): a network admits any address in it; a host
name admits only private-use addresses for that name, never loopback or link-local."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from tracking.webhook_targets import RULE_ADDRESS, TargetPolicy, parse_allow_list

NETWORKS, HOSTS, BAD = parse_allow_list(["10.20.0.0/16", "Cases.Court.Internal."])
POLICY = TargetPolicy(allowed_networks=NETWORKS, allowed_hosts=HOSTS)


@pytest.mark.parametrize(
    ("address", "host", "allowed"),
    [
        ("10.20.3.4", None, True),  # in an allowed network, whatever the name
        ("10.30.3.4", None, False),
        ("10.30.3.4", "cases.court.internal", True),  # private-use, for the allowed name
        ("fd00::5", "cases.court.internal", True),
        ("10.30.3.4", "evil.example", False),
        ("127.0.0.1", "cases.court.internal", False),  # loopback needs a network entry
        ("169.254.169.254", "cases.court.internal", False),
        ("::ffff:10.30.3.4", "evil.example", False),
        ("93.184.216.34", "evil.example", True),
    ],
)
def test_what_the_allow_list_admits(address: str, host: str | None, allowed: bool) -> None:
    refusal = POLICY.address_refusal(ip_address(address), host)
    assert (refusal is None) == allowed
    assert refusal is None or refusal.rule == RULE_ADDRESS


def test_the_socket_check_leaves_names_to_the_resolver_but_never_loopback() -> None:
    assert POLICY.connect_refusal(ip_address("10.30.3.4")) is None
    assert POLICY.connect_refusal(ip_address("127.0.0.1")) is not None
    assert TargetPolicy().connect_refusal(ip_address("10.30.3.4")) is not None


def test_entries_that_are_neither_are_named() -> None:
    assert parse_allow_list(["ok.example", "not a host", "1.2.3", "10.0.0.0/33", "1.2.3.4.5"])[
        2
    ] == [
        "not a host",
        "1.2.3",
        "10.0.0.0/33",
        "1.2.3.4.5",
    ]
