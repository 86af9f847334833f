"""Every code of the vocabulary that reaches a person has a label, in both languages."""

from __future__ import annotations

from enum import StrEnum

import pytest

from delivery.domain import DOCUMENT_KINDS
from delivery.staff import Role
from delivery.vocabulary import (
    AttemptState,
    Channel,
    ContactKind,
    ContactSource,
    DispatchState,
    EventType,
    FieldTaskState,
    NoticeState,
)
from templates.labels import LABELS, label

ENUMS: list[tuple[str, type[StrEnum]]] = [
    ("dispatch_state", DispatchState),
    ("attempt_state", AttemptState),
    ("channel", Channel),
    ("contact_kind", ContactKind),
    ("source", ContactSource),
    ("event", EventType),
    ("staff_role", Role),
    ("field_task_state", FieldTaskState),
    ("notice_state", NoticeState),
]


@pytest.mark.parametrize(("kind", "enum"), ENUMS, ids=[kind for kind, _ in ENUMS])
def test_every_enum_value_has_a_label(kind: str, enum: type[StrEnum]) -> None:
    assert sorted(set(enum) - set(LABELS[kind])) == []


def test_every_document_kind_has_a_label() -> None:
    assert sorted(DOCUMENT_KINDS - set(LABELS["document_kind"])) == []


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_chinese_labels_are_chinese_and_differ_from_the_code(kind: str) -> None:
    for code in LABELS[kind]:
        zh = label("zh-CN", kind, code)
        assert zh != code and any("\u4e00" <= ch <= "\u9fff" for ch in zh), (kind, code, zh)
        assert label("en", kind, code) == LABELS[kind][code]


def test_the_same_english_word_reads_by_its_context() -> None:
    assert label("zh-CN", "dispatch_state", DispatchState.SERVED) == "已送达"
    assert label("zh-CN", "event", EventType.DISPATCH_SERVED) == "送达完成"
