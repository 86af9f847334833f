"""Policies are data (design.md, "Policy"): TOML files checked when loaded."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from escalation.policy import (
    POLICY_DIR,
    PolicyError,
    get_policy,
    load_policy_book,
    load_policy_file,
    parse_policy,
    shipped_policies,
)

VALID: dict[str, Any] = {
    "name": "test-policy",
    "description": "for tests",
    "steps": [
        {
            "name": "electronic",
            "channels": ["email", "sms"],
            "window_days": 3,
            "max_attempts": 2,
            "completion": ["OLR-31"],
        }
    ],
}
VALID_TOML = """\
name = "{name}"
[[steps]]
name = "electronic"
channels = ["email"]
window_days = 3
completion = ["OLR-31"]
"""


def variant(*, top: dict[str, Any] | None = None, **step: Any) -> dict[str, Any]:
    """VALID with top-level keys and first-step keys replaced (``...`` deletes a key)."""
    data = copy.deepcopy(VALID)
    for target, changes in ((data, top or {}), (data["steps"][0], step)):
        for key, value in changes.items():
            if value is ...:
                del target[key]
            else:
                target[key] = value
    return data


def test_shipped_cn_civil_policy() -> None:
    """cn-civil: electronic first (3 days), postal second (10), in person (7, up to 3 visits),
    public notice last, untimed, deemed served 30 days (60 abroad) after the last publication
    (domain.md, "Policy windows"; CPL-95, CPL-283)."""
    policy = shipped_policies()["cn-civil"]
    assert policy is get_policy("cn-civil")
    assert [(s.name, s.window.days, s.max_attempts, s.timed) for s in policy.steps] == [
        ("electronic", 3, 1, True),
        ("postal", 10, 1, True),
        ("in_person", 7, 3, True),
        ("public_notice", 0, 1, False),
    ]
    assert (policy.notice_period.days, policy.notice_period_abroad.days) == (30, 60)
    assert not policy.notice_period_rolls_forward
    first = policy.steps[0]
    assert first.channels == ("email", "sms")
    assert "OLR-31" in first.completion
    assert first.electronic
    assert policy.exhausted_reason == "exhausted"


def test_the_other_shipped_profiles() -> None:
    policies = shipped_policies()
    assert set(policies) >= {"cn-civil", "cn-foreign", "cn-simplified", "us-frcp"}
    assert "public_notice" not in {c for s in policies["cn-simplified"].steps for c in s.channels}
    assert policies["cn-simplified"].exhausted_reason == "requires_ordinary_procedure"
    assert "CPL-283" in policies["cn-foreign"].steps[-1].completion


def test_every_shipped_policy_is_named_after_its_file() -> None:
    assert shipped_policies()
    for name, policy in shipped_policies().items():
        assert policy.name == name
        assert policy.steps


def test_unknown_policy_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="unknown policy 'nope'"):
        get_policy("nope")


def test_parse_valid_policy() -> None:
    policy = parse_policy(VALID, "here")
    assert policy.name == "test-policy"
    assert policy.description == "for tests"
    (step,) = policy.steps
    assert step.name == "electronic"
    assert step.channels == ("email", "sms")
    assert step.window == timedelta(days=3)
    assert step.max_attempts == 2
    assert step.completion == ("OLR-31",)


def test_max_attempts_defaults_to_one() -> None:
    assert parse_policy(variant(max_attempts=...), "here").steps[0].max_attempts == 1


@pytest.mark.parametrize(
    ("channels", "electronic"),
    [(["email"], True), (["sms", "postal"], True), (["postal"], False), (["in_person"], False)],
)
def test_step_is_electronic_when_it_uses_email_or_sms(
    channels: list[str], electronic: bool
) -> None:
    """OLR-29/30: electronic steps need consent, so the flag must be right."""
    assert parse_policy(variant(channels=channels), "here").steps[0].electronic is electronic


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (variant(top={"steps": ...}), "here: missing key 'steps'"),
        (variant(top={"name": ...}), "here: missing key 'name'"),
        (variant(top={"steps": []}), "here: key 'steps' must list at least one step"),
        (variant(top={"steps": {"a": 1}}), "here: key 'steps' must be list"),
        (variant(top={"name": 5}), "here: key 'name' must be str"),
        (variant(channels=["email", "fax"]), "here: steps[0]: key 'channels' has unknown"),
        (variant(channels=[]), "here: steps[0]: key 'channels' has unknown or no channels"),
        (variant(channels="email"), "here: steps[0]: key 'channels' must be list"),
        (variant(channels=...), "here: steps[0]: missing key 'channels'"),
        (variant(window_days=0), "here: steps[0]: key 'window_days' must be at least 1"),
        (variant(window_days=-2), "here: steps[0]: key 'window_days' must be at least 1"),
        (variant(window_days="3"), "here: steps[0]: key 'window_days' must be int"),
        (variant(window_days=True), "here: steps[0]: key 'window_days' must be int"),
        (variant(window_days=3.5), "here: steps[0]: key 'window_days' must be int"),
        (variant(completion=["XYZ-9"]), "here: steps[0]: key 'completion' names unknown rules"),
        (variant(completion="OLR-31"), "here: steps[0]: key 'completion' must be list"),
        (variant(name=...), "here: steps[0]: missing key 'name'"),
        (variant(top={"steps": [1]}), "here: steps[0]: must be a table"),
        (variant(max_attempts="two"), "here: steps[0]: key 'max_attempts' must be a whole number"),
        (variant(max_attempts=0), "here: steps[0]: key 'max_attempts' must be a whole number"),
        (variant(max_attempts=True), "here: steps[0]: key 'max_attempts' must be a whole number"),
        (variant(top={"notice_period_days": 0}), "here: key 'notice_period_days' must be a whole"),
        (
            variant(top={"notice_period_abroad_days": "60"}),
            "here: key 'notice_period_abroad_days' must be a whole",
        ),
        (
            variant(top={"notice_period_rolls_forward": "yes"}),
            "here: key 'notice_period_rolls_forward' must be true or false",
        ),
    ],
    ids=lambda v: None if isinstance(v, dict) else v.split(": ")[-1],
)
def test_parse_policy_error_names_where_key_and_reason(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "here")
    assert str(caught.value).startswith(expected)


def test_a_public_notice_step_needs_no_window() -> None:
    """It waits for approval and publication; its period is the completion rule's (CPL-95)."""
    step = parse_policy(
        variant(channels=["public_notice"], window_days=..., completion=["CPL-95"]), "here"
    ).steps[0]
    assert not step.timed


def test_unknown_channel_and_rule_are_named() -> None:
    with pytest.raises(PolicyError, match="fax"):
        parse_policy(variant(channels=["fax"]), "here")
    with pytest.raises(PolicyError, match="XYZ-9"):
        parse_policy(variant(completion=["XYZ-9"]), "here")


def test_error_names_the_failing_step_index() -> None:
    data = copy.deepcopy(VALID)
    data["steps"].append({**data["steps"][0], "window_days": 0})
    with pytest.raises(PolicyError, match=r"steps\[1\]: key 'window_days'"):
        parse_policy(data, "here")


def test_load_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "court-x.toml"
    path.write_text(VALID_TOML.format(name="court-x"), encoding="utf-8")
    policy = load_policy_file(path)
    assert policy.name == "court-x"
    assert policy.steps[0].window == timedelta(days=3)


def test_load_policy_file_with_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "broken"\n[[steps]\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML") as caught:
        load_policy_file(path)
    assert str(path) in str(caught.value)


def test_load_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(VALID_TOML.format(name="bad").replace("window_days = 3", "window_days = 0"))
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert str(caught.value).startswith(f"{path}: steps[0]: key 'window_days'")


def test_policy_name_must_equal_file_name(tmp_path: Path) -> None:
    path = tmp_path / "court-x.toml"
    path.write_text(VALID_TOML.format(name="court-y"), encoding="utf-8")
    with pytest.raises(PolicyError, match="must equal the file name 'court-x'"):
        load_policy_file(path)


def test_deployment_overrides_replace_policies_for_all_courts_or_one(tmp_path: Path) -> None:
    slow_post = SHIPPED_CN_CIVIL.replace("window_days = 10", "window_days = 20")
    (tmp_path / "cn-civil.toml").write_text(slow_post, encoding="utf-8")
    court = tmp_path / "新疆某法院"
    court.mkdir()
    (court / "cn-civil.toml").write_text(
        slow_post.replace("window_days = 20", "window_days = 30"), encoding="utf-8"
    )
    book = load_policy_book(tmp_path)
    assert book.get("cn-civil", "杭州市西湖区人民法院").steps[1].window == timedelta(days=20)
    assert book.get("cn-civil", "新疆某法院").steps[1].window == timedelta(days=30)
    assert book.get("cn-foreign", "新疆某法院") is get_policy("cn-foreign")
    assert "cn-simplified" in book.names_for("新疆某法院")


def test_a_malformed_override_fails_at_start_up_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "cn-civil.toml").write_text('name = "cn-civil"\nsteps = []\n', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"cn-civil\.toml: key 'steps'"):
        load_policy_book(tmp_path)


SHIPPED_CN_CIVIL = (POLICY_DIR / "cn-civil.toml").read_text(encoding="utf-8")
