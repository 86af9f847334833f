"""What a dispatch transaction leaves for the queue once it has committed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FollowUps:
    """Work to hand to the queue once the transaction has committed."""

    dispatch_id: str
    send_attempts: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    # The seq of each dispatch_served event recorded: its certificate is rendered after commit.
    certificates: list[int] = field(default_factory=list)
    # (seq, tries) of each chain checkpoint waiting for its RFC 3161 token.
    timestamps: list[tuple[int, int]] = field(default_factory=list)
