"""What the postal tests share: the signer's identity number the postman reports, and a
dispatch's postal attempt."""

from __future__ import annotations

from typing import Any

SIGNER_ID = "33010619900101123X"


def postal_attempt(dispatch: dict[str, Any]) -> dict[str, Any]:
    [attempt] = [a for a in dispatch["attempts"] if a["channel"] == "postal"]
    return attempt
