"""Domain objects for unit tests, with defaults: name only what a test is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from delivery.domain import Dispatch, DispatchState


def a_dispatch(**overrides: Any) -> Dispatch:
    values: dict[str, Any] = {
        "id": "d1",
        "court": "Court",
        "case_number": "(2026)浙0106民初1234号",
        "reference": "ref-1",
        "policy": "cn-civil",
        "state": DispatchState.IN_PROGRESS,
        "recipient_name": "张三",
        "recipient_role": "defendant",
        "id_last4": "123X",
        "consent_given": True,
        "consent_basis": "express",
        "locale": "zh-CN",
        "created_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    }
    return Dispatch(**{**values, **overrides})
