"""Configuration from ``SONGDA_*`` environment variables.

Every setting is read in one place and checked as a whole, so that ``songda config check`` can name
every missing or invalid setting at once instead of failing on the first.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from delivery.domain import LOCALES
from delivery.infra.private_files import generated_once
from delivery.infra.secret_box import SecretBox, SecretKeyError, parse_keys, sandbox_key
from escalation.policy import PolicyError, load_policy_book
from templates.fonts import FontError, FontSet, font_set
from tracking.timestamps import load_certificates
from tracking.webhook_targets import TargetPolicy, parse_allow_list

SMTP_TLS_MODES = ("none", "starttls", "tls")
SANDBOX_COURT = "沙箱人民法院"
MAX_TSA_TIMEOUT = 60.0
# The sandbox listens on loopback only; a walk-through may point a webhook at a local receiver.
SANDBOX_WEBHOOK_TARGETS = "127.0.0.1/32,::1/128"
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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


class _Reader:
    """Reads typed values from the environment, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(f"SONGDA_{name}", "").strip()
        return value or default

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"SONGDA_{name}: {raw!r} is not a whole number")
            return default
        if value < minimum:
            self.problems.append(f"SONGDA_{name}: must be at least {minimum}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.text(name) or "").lower()
        if raw and raw not in TRUE_WORDS + FALSE_WORDS:
            self.problems.append(f"SONGDA_{name}: must be true or false")
        return raw in TRUE_WORDS if raw else default

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            self.problems.append(f"SONGDA_{name}: {raw!r} is not a number")
            return default


def _sandbox_secret(data_dir: Path) -> str:
    """The sandbox keeps one generated secret in the data directory so links survive restarts."""
    return generated_once(data_dir / "sandbox_secret_key", lambda: secrets.token_urlsafe(48))


def _secrets_keys(r: _Reader, data_dir: Path, sandbox: bool) -> tuple[str, ...]:
    text = r.text("SECRETS_KEY")
    if text is None:
        if sandbox:
            return (sandbox_key(data_dir),)
        r.problems.append(
            "SONGDA_SECRETS_KEY: required (the key webhook signing secrets are encrypted with; "
            "`songda secrets new-key` prints one)"
        )
        return ()
    keys = parse_keys(text)
    try:
        SecretBox(keys)
    except SecretKeyError as exc:
        r.problems.append(f"SONGDA_SECRETS_KEY: {exc}")
    return keys


def load_settings(env: Mapping[str, str] | None = None, *, sandbox: bool = False) -> Settings:
    """Build settings from the environment; raise :class:`ConfigError` naming every problem."""
    r = _Reader(os.environ if env is None else env)
    data_dir = Path(r.text("DATA_DIR", "./var") or "./var").resolve()
    database_url = r.text("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'songda.db'}"
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        r.problems.append(
            "SONGDA_DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    redis_url = r.text("REDIS_URL")
    if redis_url and urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
        r.problems.append("SONGDA_REDIS_URL: must be a redis://, rediss:// or unix:// URL")

    secret_key = r.text("SECRET_KEY")
    if secret_key is None:
        if sandbox:
            secret_key = _sandbox_secret(data_dir)
        else:
            r.problems.append("SONGDA_SECRET_KEY: required (at least 32 characters)")
            secret_key = ""
    elif len(secret_key) < 32:
        r.problems.append("SONGDA_SECRET_KEY: must be at least 32 characters")

    tls = (r.text("SMTP_TLS", "none") or "none").lower()
    if tls not in SMTP_TLS_MODES:
        r.problems.append(f"SONGDA_SMTP_TLS: must be one of {', '.join(SMTP_TLS_MODES)}")
    smtp_host = r.text("SMTP_HOST")
    sender = r.text("SMTP_SENDER")
    if not sandbox:
        if smtp_host is None:
            r.problems.append("SONGDA_SMTP_HOST: required (the court's outgoing mail server)")
        if sender is None:
            r.problems.append("SONGDA_SMTP_SENDER: required (the court's From address)")
    if sender is not None and "@" not in sender:
        r.problems.append("SONGDA_SMTP_SENDER: must be an e-mail address")
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
    given = [twilio.account_sid, twilio.auth_token, twilio.sender]
    if any(given) and not all(given):
        r.problems.append(
            "SONGDA_TWILIO_ACCOUNT_SID, SONGDA_TWILIO_AUTH_TOKEN and SONGDA_TWILIO_FROM go "
            "together (leave all three unset to run without SMS)"
        )

    carrier = CarrierSettings(
        url=r.text("CARRIER_URL"),
        key=r.text("CARRIER_KEY"),
        webhook_secret=r.text("CARRIER_WEBHOOK_SECRET"),
        name=r.text("CARRIER_NAME", "court-express") or "court-express",
    )
    if carrier.url and urlsplit(carrier.url).scheme not in {"http", "https"}:
        r.problems.append("SONGDA_CARRIER_URL: must be an absolute http(s) URL")
    if any((carrier.url, carrier.key, carrier.webhook_secret)) and not all(
        (carrier.url, carrier.key, carrier.webhook_secret)
    ):
        r.problems.append(
            "SONGDA_CARRIER_URL, SONGDA_CARRIER_KEY and SONGDA_CARRIER_WEBHOOK_SECRET go together "
            "(leave all three unset to run without the postal channel)"
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", carrier.name):
        r.problems.append(
            "SONGDA_CARRIER_NAME: lower-case letters, digits, - and _ (at most 40 characters)"
        )

    host = r.text("HOST", "127.0.0.1") or "127.0.0.1"
    port = r.integer("PORT", 8080)
    base_url = (r.text("PUBLIC_BASE_URL") or f"http://{host}:{port}").rstrip("/")
    if urlsplit(base_url).scheme not in {"http", "https"} or not urlsplit(base_url).netloc:
        r.problems.append("SONGDA_PUBLIC_BASE_URL: must be an absolute http(s) URL")

    court_name = r.text("COURT_NAME")
    if court_name is None:
        if sandbox:
            court_name = SANDBOX_COURT
        else:
            r.problems.append("SONGDA_COURT_NAME: required (the court this deployment serves)")
            court_name = ""

    time_zone = r.text("TIME_ZONE", "Asia/Shanghai") or "Asia/Shanghai"
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.append(f"SONGDA_TIME_ZONE: unknown time zone {time_zone!r}")

    locale = r.text("DEFAULT_LOCALE", "zh-CN") or "zh-CN"
    if locale not in LOCALES:
        r.problems.append("SONGDA_DEFAULT_LOCALE: must be zh-CN or en")

    trust_forwarded = r.flag("TRUST_X_FORWARDED_FOR", False)

    policy_dir_text = r.text("POLICY_DIR")
    policy_dir = Path(policy_dir_text).resolve() if policy_dir_text else None
    if policy_dir is not None:
        try:
            load_policy_book(policy_dir)
        except (PolicyError, OSError) as exc:
            r.problems.append(f"SONGDA_POLICY_DIR: {exc}")

    fonts_dir_text = r.text("FONTS_DIR")
    fonts_dir = Path(fonts_dir_text).resolve() if fonts_dir_text else None
    try:
        font_set(fonts_dir)
    except FontError as exc:
        r.problems.append(f"SONGDA_FONTS_DIR: {exc}" if fonts_dir else f"bundled fonts: {exc}")
    tsa_url = r.text("TSA_URL")
    if tsa_url and (
        urlsplit(tsa_url).scheme not in {"http", "https"} or not urlsplit(tsa_url).netloc
    ):
        r.problems.append("SONGDA_TSA_URL: must be an absolute http(s) URL (RFC 3161 over HTTP)")
    tsa_cert_text = r.text("TSA_CERT")
    tsa_cert_path = Path(tsa_cert_text).resolve() if tsa_cert_text else None
    if tsa_cert_path is not None:
        try:
            load_certificates(tsa_cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            r.problems.append(f"SONGDA_TSA_CERT: {tsa_cert_path} is not a PEM certificate ({exc})")
    elif tsa_url:
        r.problems.append(
            "SONGDA_TSA_CERT: required with SONGDA_TSA_URL (the TSA's certificate or chain, PEM): "
            "without it no token can be checked"
        )

    tsa_timeout = r.number("TSA_TIMEOUT", 10.0)
    if not 0 < tsa_timeout <= MAX_TSA_TIMEOUT:
        # Bounded: a job waiting on a slow TSA holds one worker slot, never longer than this.
        r.problems.append(f"SONGDA_TSA_TIMEOUT: seconds, more than 0 and at most {MAX_TSA_TIMEOUT}")

    secrets_keys = _secrets_keys(r, data_dir, sandbox)
    networks, hosts, bad = parse_allow_list(
        (r.text("WEBHOOK_ALLOWED_TARGETS", SANDBOX_WEBHOOK_TARGETS if sandbox else "") or "").split(
            ","
        )
    )
    if bad:
        r.problems.append(
            "SONGDA_WEBHOOK_ALLOWED_TARGETS: neither a network (CIDR) nor a host name: "
            + ", ".join(bad)
        )
    webhook_targets = TargetPolicy(r.flag("WEBHOOK_ALLOW_HTTP", sandbox), networks, hosts)

    if sandbox and host not in ("127.0.0.1", "::1", "localhost"):
        r.problems.append(
            "SONGDA_HOST: sandbox mode serves its mailbox and clock without login, so it only "
            "listens on a loopback address (127.0.0.1)"
        )

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
        keys_dir_setting=Path(keys_text).resolve() if (keys_text := r.text("KEYS_DIR")) else None,
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
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def deployment_warnings(settings: Settings, command: str) -> list[str]:
    """Problems that depend on how the settings are used rather than on a single value."""
    warnings: list[str] = []
    if settings.is_sqlite and command in {"web", "worker"}:
        warnings.append(
            "SQLite is for one process (`songda run`); separate web and worker processes need "
            "PostgreSQL (SONGDA_DATABASE_URL=postgresql+asyncpg://...)"
        )
    if settings.redis_url is None and command in {"web", "worker"}:
        warnings.append(
            "SONGDA_REDIS_URL is unset: only `songda run` starts a private Redis; "
            "separate web and worker processes must share one Redis"
        )
    return warnings


def advisories(settings: Settings) -> list[str]:
    """What is allowed but weakens the service; said at start and by ``songda config check``
    without refusing to run."""
    if settings.tsa_url is None and not settings.sandbox:
        return [
            "SONGDA_TSA_URL is unset: proofs carry no third-party time (RFC 3161); their times "
            "rest on the court's own clock alone"
        ]
    return []
