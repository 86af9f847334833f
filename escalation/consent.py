"""OLR-29/30: electronic service only to a recipient whose consent is recorded.

One function for the rule: the decision skips an electronic step without it
(``escalation.decide``), a clerk's retry or new address starts no e-service without it
(``delivery.services.clerk_actions``), and the dispatch page offers only what it allows.
"""

from __future__ import annotations

from delivery.domain import ELECTRONIC_CHANNELS


def may_serve_on(channel: str, *, consent_given: bool) -> bool:
    """Whether ``channel`` may serve the recipient: an electronic one (e-mail, SMS) only with
    recorded consent (express, by contract, by filing, or tacit), the others always."""
    return consent_given or channel not in ELECTRONIC_CHANNELS
