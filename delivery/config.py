"""Configuration from ``SONGDA_*`` environment variables.

Every setting is read in one place and checked as a whole, so that ``songda config check`` can name
every missing or invalid setting at once instead of failing on the first. The settings' types and
their assembly are here; reading and checking each value is in :mod:`delivery.config_checks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from delivery import config_checks as checks
from delivery.config_checks import SANDBOX_COURT as SANDBOX_COURT  # named by keys and tests
from delivery.config_sms import AliyunSettings, SmsRouting, aliyun, routing
from delivery.court_contact import CourtContact, court_contact, court_contact_advice
from delivery.infra.secret_box import SecretBox
from templates.fonts import FontSet, font_set
from templates.texts import Text, wording
from tracking.webhook_targets import TargetPolicy


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason in English (logs),
    ``wordings`` the same to be shown in the operator's language (``songda config check``)."""

    def __init__(self, wordings: list[Text]) -> None:
        self.wordings = wordings
        self.problems = [str(w) for w in wordings]
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    tls: str
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    pool_size: int
    timeout: float


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str | None
    auth_token: str | None = field(repr=False)
    sender: str | None
    api_base_url: str | None
    max_segments: int

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.sender)


@dataclass(frozen=True)
class CarrierSettings:
    """The court-express-mail carrier (docs/decisions/0006-carrier-api.md)."""

    url: str | None
    key: str | None = field(repr=False)
    webhook_secret: str | None = field(repr=False)
    name: str = "court-express"

    @property
    def configured(self) -> bool:
        return bool(self.url and self.key)


@dataclass(frozen=True)
class LimitSettings:
    """Per-address limits on what anyone may call without logging in, and the caps on
    guessing (docs/decisions/0026-shared-limits.md). Counted in Redis, shared by every process."""

    public_per_minute: int = 120  # SONGDA_PUBLIC_REQUESTS_PER_MINUTE: pages, links, /.well-known
    pdfs_per_minute: int = 20  # SONGDA_PUBLIC_PDFS_PER_MINUTE: public notice PDFs
    checks_per_15_minutes: int = 10  # SONGDA_CHECK_TRIES: POST /check per 15 minutes
    otp_sends_per_day: int = 5  # SONGDA_OTP_SENDS_PER_DAY: one-time codes per recipient link


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    queue_name: str
    secret_key: str = field(repr=False)
    smtp: SmtpSettings
    twilio: TwilioSettings
    public_base_url: str
    court_name: str
    time_zone: str
    host: str
    port: int
    max_upload_bytes: int
    link_ttl_days: int
    default_locale: str
    worker_concurrency: int
    policy_dir: Path | None = None
    sandbox: bool = False
    # Behind a reverse proxy that appends X-Forwarded-For: rate limits key on its last entry
    # (SONGDA_TRUST_X_FORWARDED_FOR); otherwise on the peer address.
    trust_x_forwarded_for: bool = False
    carrier: CarrierSettings = CarrierSettings(None, None, None)
    # Largest photo, video or signature a field server uploads (SONGDA_MAX_MEDIA_BYTES).
    max_media_bytes: int = 100 * 1024 * 1024
    # Where the court's signing keys live (SONGDA_KEYS_DIR); None: <data dir>/keys.
    keys_dir_setting: Path | None = None
    # Supplementary fonts (SONGDA_FONTS_DIR) drawn after the bundled ones, for characters they
    # lack (templates/fonts, decision 0019).
    fonts_dir: Path | None = None
    # The time-stamping authority (RFC 3161) that stamps chain checkpoints (SONGDA_TSA_URL), its
    # certificate or chain (SONGDA_TSA_CERT, PEM) and how long a checkpoint may wait for its
    # token before the dispatch is flagged (SONGDA_TSA_FLAG_HOURS); docs/decisions/0021.
    tsa_url: str | None = None
    tsa_cert_path: Path | None = None
    tsa_flag_hours: int = 6
    tsa_timeout: float = 10.0
    # Where webhooks may be posted (SONGDA_WEBHOOK_ALLOW_HTTP, SONGDA_WEBHOOK_ALLOWED_TARGETS;
    # docs/decisions/0028) and the keys webhook secrets are sealed with (SONGDA_SECRETS_KEY).
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)
    secrets_keys: tuple[str, ...] = field(default=(), repr=False)
    # Per-address limits on public endpoints and one-time codes (docs/decisions/0026).
    limits: LimitSettings = LimitSettings()
    # What the recipient's pages say about reaching the court (docs/decisions/0037).
    court_contact: CourtContact = field(default_factory=CourtContact)
    # Alibaba Cloud SMS and the order SMS providers are tried in (docs/decisions/0044, 0045).
    aliyun: AliyunSettings = field(default_factory=AliyunSettings)
    sms_routing: SmsRouting = field(default_factory=SmsRouting)

    @property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.secrets_keys)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def fonts(self) -> FontSet:
        """The fonts every PDF is drawn with (checked when the settings were loaded)."""
        return font_set(self.fonts_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    @property
    def tsa_flag_after(self) -> timedelta:
        """How long a checkpoint may wait for its token before its dispatch is flagged."""
        return timedelta(hours=self.tsa_flag_hours)

    @property
    def keys_dir(self) -> Path:
        """The court's signing keys (delivery/infra/keys.py)."""
        return self.keys_dir_setting or self.data_dir / "keys"


def court_calendar_file(settings: Settings) -> Path:
    """The court's own holiday file (``songda calendar import`` writes it)."""
    return calendar_file_in(settings.data_dir)


def calendar_file_in(data_dir: Path) -> Path:
    return data_dir / "calendar" / "cn.toml"


def data_dir_from_env(env: Mapping[str, str] | None = None) -> Path:
    """Only the data directory, for commands that need nothing else."""
    value = (os.environ if env is None else env).get("SONGDA_DATA_DIR", "").strip()
    return Path(value or "./var").resolve()


def keys_dir_from_env(env: Mapping[str, str] | None = None) -> Path:
    """Only the keys directory (``songda keys``): SONGDA_KEYS_DIR or ``<data dir>/keys``."""
    value = (os.environ if env is None else env).get("SONGDA_KEYS_DIR", "").strip()
    return Path(value).resolve() if value else data_dir_from_env(env) / "keys"


@dataclass(frozen=True)
class DatabaseSettings:
    """What the commands that only read or write the database need (``apikey``, ``user``,
    ``report``, ``verify --db``): an operator runs them against any data directory, a sandbox's
    included, without the SMTP server, secrets and court that only a running service uses."""

    data_dir: Path
    database_url: str
    time_zone: str
    # SONGDA_COURT_NAME; in a sandbox's data directory the sandbox court; else None, and a
    # command that needs a default court says so.
    court_name: str | None
    tsa_cert_path: Path | None
    # The data directory is one `songda run --sandbox` made (its API key file is there).
    sandbox: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def load_database_settings(env: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Only the database's settings; raise :class:`ConfigError` naming every problem."""
    r = checks.Reader(os.environ if env is None else env)
    data_dir = Path(r.text("DATA_DIR", "./var") or "./var").resolve()
    sandbox = checks.is_sandbox_data_dir(data_dir)
    settings = DatabaseSettings(
        data_dir=data_dir,
        database_url=checks.database_url(r, data_dir),
        time_zone=checks.time_zone(r),
        court_name=r.text("COURT_NAME", SANDBOX_COURT if sandbox else None),
        tsa_cert_path=r.path("TSA_CERT"),
        sandbox=sandbox,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def load_settings(env: Mapping[str, str] | None = None, *, sandbox: bool = False) -> Settings:
    """Build settings from the environment; raise :class:`ConfigError` naming every problem."""
    r = checks.Reader(os.environ if env is None else env)
    data_dir = Path(r.text("DATA_DIR", "./var") or "./var").resolve()
    database_url = checks.database_url(r, data_dir)
    redis_url = checks.redis_url(r)
    secret_key = checks.secret_key(r, data_dir, sandbox)
    tls, smtp_host, sender = checks.smtp_server(r, sandbox)
    smtp = SmtpSettings(
        host=smtp_host,
        port=r.integer("SMTP_PORT", 465 if tls == "tls" else 25),
        tls=tls,
        username=r.text("SMTP_USERNAME"),
        password=r.text("SMTP_PASSWORD"),
        sender=sender or "songda@sandbox.invalid",
        pool_size=r.integer("SMTP_POOL_SIZE", 4),
        timeout=r.number("SMTP_TIMEOUT", 30.0),
    )
    twilio = TwilioSettings(
        account_sid=r.text("TWILIO_ACCOUNT_SID"),
        auth_token=r.text("TWILIO_AUTH_TOKEN"),
        sender=r.text("TWILIO_FROM"),
        api_base_url=r.text("TWILIO_API_BASE_URL"),
        max_segments=r.integer("SMS_MAX_SEGMENTS", 3),
    )
    checks.together(
        r,
        (twilio.account_sid, twilio.auth_token, twilio.sender),
        wording(
            "SONGDA_TWILIO_ACCOUNT_SID, SONGDA_TWILIO_AUTH_TOKEN and SONGDA_TWILIO_FROM go "
            "together (leave all three unset to run without SMS)"
        ),
    )
    carrier = CarrierSettings(*checks.carrier(r))
    host = r.text("HOST", "127.0.0.1") or "127.0.0.1"
    port = r.integer("PORT", 8080)
    base_url = checks.public_base_url(r, host, port)
    court_name = checks.court_name(r, sandbox)
    time_zone = checks.time_zone(r)
    locale = checks.default_locale(r)
    trust_forwarded = r.flag("TRUST_X_FORWARDED_FOR", False)
    policy_dir = checks.policy_dir(r)
    fonts_dir = checks.fonts_dir(r)
    tsa_url, tsa_cert_path, tsa_timeout = checks.tsa(r)
    secrets_keys = checks.secrets_keys(r, data_dir, sandbox)
    webhook_targets = checks.webhook_targets(r, sandbox)
    checks.sandbox_host(r, host, sandbox)

    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        queue_name=r.text("QUEUE_NAME", "songda:queue") or "songda:queue",
        secret_key=secret_key,
        smtp=smtp,
        twilio=twilio,
        public_base_url=base_url,
        court_name=court_name,
        time_zone=time_zone,
        host=host,
        port=port,
        max_upload_bytes=r.integer("MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
        link_ttl_days=r.integer("LINK_TTL_DAYS", 30),
        default_locale=locale,
        worker_concurrency=r.integer("WORKER_CONCURRENCY", 50),
        policy_dir=policy_dir,
        sandbox=sandbox,
        trust_x_forwarded_for=trust_forwarded,
        carrier=carrier,
        max_media_bytes=r.integer("MAX_MEDIA_BYTES", 100 * 1024 * 1024),
        keys_dir_setting=r.path("KEYS_DIR"),
        fonts_dir=fonts_dir,
        tsa_url=tsa_url,
        tsa_cert_path=tsa_cert_path,
        tsa_flag_hours=r.integer("TSA_FLAG_HOURS", 6),
        tsa_timeout=tsa_timeout,
        webhook_targets=webhook_targets,
        secrets_keys=secrets_keys,
        limits=LimitSettings(
            public_per_minute=r.integer("PUBLIC_REQUESTS_PER_MINUTE", 120),
            pdfs_per_minute=r.integer("PUBLIC_PDFS_PER_MINUTE", 20),
            checks_per_15_minutes=r.integer("CHECK_TRIES", 10),
            otp_sends_per_day=r.integer("OTP_SENDS_PER_DAY", 5),
        ),
        court_contact=court_contact(r, sandbox),
        aliyun=aliyun(r, court_name),
        sms_routing=routing(r, sandbox),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def deployment_warnings(settings: Settings, command: str) -> list[Text]:
    """Problems that depend on how the settings are used rather than on a single value."""
    warnings: list[Text] = []
    if settings.is_sqlite and command in {"web", "worker"}:
        warnings.append(
            wording(
                "SQLite is for one process (`songda run`); separate web and worker processes "
                "need PostgreSQL (SONGDA_DATABASE_URL=postgresql+asyncpg://...)"
            )
        )
    if settings.redis_url is None and command in {"web", "worker"}:
        warnings.append(
            wording(
                "SONGDA_REDIS_URL is unset: only `songda run` starts a private Redis; "
                "separate web and worker processes must share one Redis"
            )
        )
    return warnings


def advisories(settings: Settings) -> list[Text]:
    """What is allowed but weakens the service; said at start and by ``songda config check``
    without refusing to run."""
    advice: list[Text] = []
    if settings.tsa_url is None and not settings.sandbox:
        advice.append(
            wording(
                "SONGDA_TSA_URL is unset: proofs carry no third-party time (RFC 3161); their "
                "times rest on the court's own clock alone"
            )
        )
    return advice + court_contact_advice(settings.court_contact)
