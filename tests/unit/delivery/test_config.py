"""Configuration from SONGDA_* variables, checked as a whole (design.md, "Conventions")."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from delivery.config import (
    SANDBOX_COURT,
    ConfigError,
    deployment_warnings,
    load_settings,
)
from delivery.config_sms import parse_routes
from delivery.infra.secret_box import new_key

SECRET = "x" * 32
REQUIRED = ("SECRET_KEY", "SMTP_HOST", "SMTP_SENDER", "COURT_NAME", "SECRETS_KEY")
SECRETS_KEY = new_key()


def env(data_dir: Path, **values: str) -> dict[str, str]:
    """A complete, valid production environment, with ``values`` replaced."""
    base = {
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": SECRET,
        "SMTP_HOST": "smtp.court.example",
        "SMTP_SENDER": "songda@court.example",
        "COURT_NAME": "杭州市西湖区人民法院",
        "SECRETS_KEY": SECRETS_KEY,
    }
    base.update(values)
    return {f"SONGDA_{k}": v for k, v in base.items()}


def problems_of(environment: dict[str, str], **kwargs: bool) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(environment, **kwargs)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def test_valid_environment_loads_with_defaults(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path))
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'songda.db'}"
    assert settings.is_sqlite
    assert settings.documents_dir == tmp_path.resolve() / "documents"
    assert settings.redis_url is None
    assert settings.secret_key == SECRET
    assert settings.court_name == "杭州市西湖区人民法院"
    assert settings.time_zone == "Asia/Shanghai"
    assert settings.zone.key == "Asia/Shanghai"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.tls) == (
        "smtp.court.example",
        25,
        "none",
    )
    assert settings.public_base_url == "http://127.0.0.1:8080"
    assert settings.default_locale == "zh-CN"
    assert not settings.sandbox


def test_secrets_are_not_in_the_repr(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, SMTP_PASSWORD="hunter2-password"))
    assert SECRET not in repr(settings)
    assert "hunter2-password" not in repr(settings)


def test_implicit_tls_defaults_to_port_465(tmp_path: Path) -> None:
    assert load_settings(env(tmp_path, SMTP_TLS="TLS")).smtp.port == 465


def test_every_missing_required_setting_is_named_at_once(tmp_path: Path) -> None:
    problems = problems_of({"SONGDA_DATA_DIR": str(tmp_path)})
    assert len(problems) == len(REQUIRED)
    for name, problem in zip(REQUIRED, problems, strict=True):
        assert problem.startswith(f"SONGDA_{name}: required")


@pytest.mark.parametrize("name", REQUIRED)
def test_blank_required_setting_counts_as_missing(tmp_path: Path, name: str) -> None:
    (problem,) = problems_of(env(tmp_path, **{name: "   "}))
    assert problem.startswith(f"SONGDA_{name}: required")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTP_TLS", "ssl"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("TIME_ZONE", "../etc/passwd"),
        ("PORT", "80a"),
        ("PORT", "0"),
        ("SMTP_PORT", "twenty-five"),
        ("SMTP_TIMEOUT", "soon"),
        ("SECRET_KEY", "too-short"),
        ("SMTP_SENDER", "no-at-sign"),
        ("DATABASE_URL", "mysql://db/songda"),
        ("REDIS_URL", "http://localhost:6379"),
        ("PUBLIC_BASE_URL", "ftp://songda.example"),
        ("DEFAULT_LOCALE", "fr"),
        ("TRUST_X_FORWARDED_FOR", "maybe"),
        ("SECRETS_KEY", "not-a-fernet-key"),
        ("WEBHOOK_ALLOW_HTTP", "maybe"),
        ("WEBHOOK_ALLOWED_TARGETS", "10.0.0.0/8,not a host!"),
    ],
)
def test_bad_value_is_named(tmp_path: Path, name: str, value: str) -> None:
    (problem,) = problems_of(env(tmp_path, **{name: value}))
    assert problem.startswith(f"SONGDA_{name}: ")


def test_several_bad_values_are_all_reported(tmp_path: Path) -> None:
    problems = problems_of(env(tmp_path, SMTP_TLS="ssl", TIME_ZONE="Nowhere/Land", PORT="x"))
    named = {p.split(":")[0] for p in problems}
    assert named == {"SONGDA_SMTP_TLS", "SONGDA_TIME_ZONE", "SONGDA_PORT"}


def test_sandbox_needs_no_settings(tmp_path: Path) -> None:
    settings = load_settings({"SONGDA_DATA_DIR": str(tmp_path)}, sandbox=True)
    assert settings.sandbox
    assert settings.court_name == SANDBOX_COURT
    assert len(settings.secret_key) >= 32
    assert settings.smtp.host is None
    assert "@" in settings.smtp.sender


def test_sandbox_secret_is_persisted_and_reused(tmp_path: Path) -> None:
    environment = {"SONGDA_DATA_DIR": str(tmp_path / "data")}
    first = load_settings(environment, sandbox=True).secret_key
    second = load_settings(environment, sandbox=True).secret_key
    assert first == second
    stored = tmp_path / "data" / "sandbox_secret_key"
    assert stored.read_text().strip() == first
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_sandbox_secrets_key_is_generated_once_owner_only(tmp_path: Path) -> None:
    environment = {"SONGDA_DATA_DIR": str(tmp_path / "data")}
    first = load_settings(environment, sandbox=True)
    assert first.secrets_keys == load_settings(environment, sandbox=True).secrets_keys
    stored = tmp_path / "data" / "sandbox_secrets_key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert first.secret_box.open(first.secret_box.seal("whsec_x")) == "whsec_x"
    assert first.webhook_targets.allow_http  # the sandbox's walk-through receivers are local


def test_production_webhooks_are_https_only_with_no_allow_list(tmp_path: Path) -> None:
    targets = load_settings(env(tmp_path)).webhook_targets
    assert not targets.allow_http
    assert (targets.allowed_networks, targets.allowed_hosts) == ((), frozenset())
    intranet = load_settings(
        env(tmp_path, WEBHOOK_ALLOWED_TARGETS="10.20.0.0/16, cases.court.internal")
    ).webhook_targets
    assert [str(n) for n in intranet.allowed_networks] == ["10.20.0.0/16"]
    assert intranet.allowed_hosts == {"cases.court.internal"}


def test_sandbox_uses_an_explicit_secret_and_writes_none(tmp_path: Path) -> None:
    environment = {"SONGDA_DATA_DIR": str(tmp_path), "SONGDA_SECRET_KEY": SECRET}
    assert load_settings(environment, sandbox=True).secret_key == SECRET
    assert not (tmp_path / "sandbox_secret_key").exists()


def test_sandbox_still_checks_given_values(tmp_path: Path) -> None:
    (problem,) = problems_of(
        {"SONGDA_DATA_DIR": str(tmp_path), "SONGDA_SECRET_KEY": "short"}, sandbox=True
    )
    assert problem.startswith("SONGDA_SECRET_KEY: ")


@pytest.mark.parametrize("command", ["web", "worker"])
def test_sqlite_and_no_redis_are_flagged_for_separate_processes(
    tmp_path: Path, command: str
) -> None:
    warnings = [str(w) for w in deployment_warnings(load_settings(env(tmp_path)), command)]
    assert len(warnings) == 2
    assert "SQLite" in warnings[0]
    assert "PostgreSQL" in warnings[0]
    assert "SONGDA_REDIS_URL" in warnings[1]


def test_single_process_run_has_no_warnings(tmp_path: Path) -> None:
    assert deployment_warnings(load_settings(env(tmp_path)), "run") == []


def test_postgres_and_redis_scale_out_without_warnings(tmp_path: Path) -> None:
    settings = load_settings(
        env(
            tmp_path,
            DATABASE_URL="postgresql+asyncpg://songda@db/songda",
            REDIS_URL="redis://redis:6379/0",
        )
    )
    assert not settings.is_sqlite
    assert deployment_warnings(settings, "web") == []


# The SMS providers' settings (docs/decisions/0044, 0045): `songda config check` names a missing
# signature or template code per court, bad routes and bad callback networks.
ALIYUN = {
    "ALIYUN_ACCESS_KEY_ID": "LTAI-key",
    "ALIYUN_ACCESS_KEY_SECRET": "secret",
    "ALIYUN_SIGN_NAME": "西湖法院",
    "ALIYUN_SERVICE_TEMPLATE": "SMS_1",
    "ALIYUN_CODE_TEMPLATE": "SMS_2",
    "ALIYUN_CONFIRM_TEMPLATE": "SMS_3",
    "ALIYUN_CALLBACK_SECRET": "s" * 24,
    "ALIYUN_CALLBACK_SOURCES": "100.64.0.0/10, 2001:db8::/32",
}


def test_alibaba_with_templates_loads(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, **ALIYUN, SMS_SLOW_RECEIPT_SECONDS="120"))
    assert settings.aliyun.configured
    assert settings.aliyun.templates("杭州市西湖区人民法院").missing() == []
    assert len(settings.aliyun.callback_sources) == 2
    assert settings.sms_routing.providers_for("+8613800138000") == ("aliyun", "twilio")
    assert settings.sms_routing.providers_for("+14155550100") == ("twilio",)
    assert settings.sms_routing.health.slow_receipt == timedelta(seconds=120)
    assert "secret" not in repr(settings.aliyun)


def test_a_missing_template_is_named_per_court(tmp_path: Path) -> None:
    courts = tmp_path / "courts.toml"
    courts.write_text(
        '["余杭区人民法院"]\nsign_name = "余杭法院"\nservice_template = "SMS_9"\n',
        encoding="utf-8",
    )
    values = {**ALIYUN, "ALIYUN_CODE_TEMPLATE": "", "ALIYUN_COURTS_FILE": str(courts)}
    problems = problems_of(env(tmp_path, **values))
    assert [p for p in problems if "code_template" in p] == [
        "Alibaba Cloud SMS has no code_template for the court 余杭区人民法院 "
        "(SONGDA_ALIYUN_CODE_TEMPLATE, or the court's table in SONGDA_ALIYUN_COURTS_FILE)",
        "Alibaba Cloud SMS has no code_template for the court 杭州市西湖区人民法院 "
        "(SONGDA_ALIYUN_CODE_TEMPLATE, or the court's table in SONGDA_ALIYUN_COURTS_FILE)",
    ]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("ALIYUN_CALLBACK_SECRET", "short", "SONGDA_ALIYUN_CALLBACK_SECRET"),
        ("ALIYUN_CALLBACK_SOURCES", "", "SONGDA_ALIYUN_CALLBACK_SOURCES"),
        ("ALIYUN_CALLBACK_SOURCES", "10.0.0.0/8,nowhere", "nowhere"),
        ("ALIYUN_ACCESS_KEY_SECRET", "", "SONGDA_ALIYUN_ACCESS_KEY_SECRET"),
        ("ALIYUN_SIGN_NAME", "", "sign_name"),
        ("SMS_ROUTES", "+861=aliyun,carrier-pigeon", "carrier-pigeon"),
    ],
)
def test_bad_sms_settings_are_named(tmp_path: Path, name: str, value: str, named: str) -> None:
    problems = problems_of(env(tmp_path, **{**ALIYUN, name: value}))
    assert any(named in p for p in problems), problems


def test_routes_parse_in_order() -> None:
    routes, bad = parse_routes("+861=aliyun,twilio; +852=twilio; *=twilio")
    assert bad == [] and [r.prefix for r in routes] == ["+861", "+852", "*"]


def test_the_sandbox_sends_through_the_twilio_stand_in_first(tmp_path: Path) -> None:
    settings = load_settings({"SONGDA_DATA_DIR": str(tmp_path)}, sandbox=True)
    assert settings.sms_routing.providers_for("+8613800138000") == ("twilio", "aliyun")
