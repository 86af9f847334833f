"""Reading ``SONGDA_*`` variables, each checked where it is read, problems collected.

:func:`delivery.config.load_settings` calls these in a fixed order, so ``songda config check``
names every problem at once and always in the same order. Each function reads one setting or a
group that is only valid together, and returns the checked value (a usable default where the
value is wrong: the problem is recorded and the settings are refused as a whole).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from delivery.domain import LOCALES
from delivery.infra.private_files import generated_once
from delivery.infra.secret_box import SecretBox, SecretKeyError, parse_keys, sandbox_key
from escalation.policy import PolicyError, load_policy_book
from templates.fonts import FontError, font_set
from templates.texts import Text, wording
from tracking.timestamps import load_certificates
from tracking.webhook_targets import TargetPolicy, parse_allow_list

SMTP_TLS_MODES = ("none", "starttls", "tls")
SANDBOX_COURT = "沙箱人民法院"
# Written by every `songda run --sandbox` (the walk-through's key): marks a sandbox's data dir.
SANDBOX_API_KEY_FILE = "sandbox_api_key"
MAX_TSA_TIMEOUT = 60.0
# The sandbox listens on loopback only; a walk-through may point a webhook at a local receiver.
SANDBOX_WEBHOOK_TARGETS = "127.0.0.1/32,::1/128"
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


class Reader:
    """Reads typed values from the environment, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Text] = []

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
            self.problems.append(
                wording("%(setting)s: %(value)s is not a whole number", **_said(name, raw))
            )
            return default
        if value < minimum:
            self.problems.append(
                wording("%(setting)s: must be at least %(minimum)s", **_said(name), minimum=minimum)
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.text(name) or "").lower()
        if raw and raw not in TRUE_WORDS + FALSE_WORDS:
            self.problems.append(wording("%(setting)s: must be true or false", **_said(name)))
        return raw in TRUE_WORDS if raw else default

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            self.problems.append(
                wording("%(setting)s: %(value)s is not a number", **_said(name, raw))
            )
            return default

    def path(self, name: str) -> Path | None:
        text = self.text(name)
        return Path(text).resolve() if text else None


def _said(name: str, raw: str | None = None) -> dict[str, object]:
    """The parameters of a setting's problem: its variable and the value given (quoted as
    given, so an operator sees stray spaces or quotes)."""
    return {"setting": f"SONGDA_{name}", "value": repr(raw)}


def database_url(r: Reader, data_dir: Path) -> str:
    url = r.text("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'songda.db'}"
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        r.problems.append(
            wording(
                "SONGDA_DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        )
    return url


def redis_url(r: Reader) -> str | None:
    url = r.text("REDIS_URL")
    if url and urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        r.problems.append(wording("SONGDA_REDIS_URL: must be a redis://, rediss:// or unix:// URL"))
    return url


def secret_key(r: Reader, data_dir: Path, sandbox: bool) -> str:
    key = r.text("SECRET_KEY")
    if key is None:
        if sandbox:
            return _sandbox_secret(data_dir)
        r.problems.append(wording("SONGDA_SECRET_KEY: required (at least 32 characters)"))
        return ""
    if len(key) < 32:
        r.problems.append(wording("SONGDA_SECRET_KEY: must be at least 32 characters"))
    return key


def _sandbox_secret(data_dir: Path) -> str:
    """The sandbox keeps one generated secret in the data directory so links survive restarts."""
    return generated_once(data_dir / "sandbox_secret_key", lambda: secrets.token_urlsafe(48))


def smtp_server(r: Reader, sandbox: bool) -> tuple[str, str | None, str | None]:
    """The TLS mode, host and sender address of the court's outgoing mail server."""
    tls = (r.text("SMTP_TLS", "none") or "none").lower()
    if tls not in SMTP_TLS_MODES:
        r.problems.append(
            wording("SONGDA_SMTP_TLS: must be one of %(modes)s", modes=", ".join(SMTP_TLS_MODES))
        )
    host = r.text("SMTP_HOST")
    sender = r.text("SMTP_SENDER")
    if not sandbox:
        if host is None:
            r.problems.append(
                wording("SONGDA_SMTP_HOST: required (the court's outgoing mail server)")
            )
        if sender is None:
            r.problems.append(wording("SONGDA_SMTP_SENDER: required (the court's From address)"))
    if sender is not None and "@" not in sender:
        r.problems.append(wording("SONGDA_SMTP_SENDER: must be an e-mail address"))
    return tls, host, sender


def is_sandbox_data_dir(data_dir: Path) -> bool:
    """Whether ``songda run --sandbox`` has run on this data directory."""
    return (data_dir / SANDBOX_API_KEY_FILE).is_file()


def together(r: Reader, values: tuple[str | None, ...], problem: Text) -> None:
    """Settings that only work as a set: all given or none."""
    if any(values) and not all(values):
        r.problems.append(problem)


def carrier(r: Reader) -> tuple[str | None, str | None, str | None, str]:
    """The court-express-mail carrier: URL, key, webhook secret (all or none) and name."""
    url = r.text("CARRIER_URL")
    key = r.text("CARRIER_KEY")
    webhook_secret = r.text("CARRIER_WEBHOOK_SECRET")
    name = r.text("CARRIER_NAME", "court-express") or "court-express"
    if url and urlsplit(url).scheme not in {"http", "https"}:
        r.problems.append(wording("SONGDA_CARRIER_URL: must be an absolute http(s) URL"))
    together(
        r,
        (url, key, webhook_secret),
        wording(
            "SONGDA_CARRIER_URL, SONGDA_CARRIER_KEY and SONGDA_CARRIER_WEBHOOK_SECRET go "
            "together (leave all three unset to run without the postal channel)"
        ),
    )
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
        r.problems.append(
            wording(
                "SONGDA_CARRIER_NAME: lower-case letters, digits, - and _ (at most 40 characters)"
            )
        )
    return url, key, webhook_secret, name


def public_base_url(r: Reader, host: str, port: int) -> str:
    base_url = (r.text("PUBLIC_BASE_URL") or f"http://{host}:{port}").rstrip("/")
    if urlsplit(base_url).scheme not in {"http", "https"} or not urlsplit(base_url).netloc:
        r.problems.append(wording("SONGDA_PUBLIC_BASE_URL: must be an absolute http(s) URL"))
    return base_url


def court_name(r: Reader, sandbox: bool) -> str:
    name = r.text("COURT_NAME")
    if name is not None:
        return name
    if sandbox:
        return SANDBOX_COURT
    r.problems.append(wording("SONGDA_COURT_NAME: required (the court this deployment serves)"))
    return ""


DEFAULT_TIME_ZONE = "Asia/Shanghai"


def time_zone(r: Reader) -> str:
    zone = r.text("TIME_ZONE", DEFAULT_TIME_ZONE) or DEFAULT_TIME_ZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.append(wording("SONGDA_TIME_ZONE: unknown time zone %(zone)s", zone=repr(zone)))
    return zone


def default_locale(r: Reader) -> str:
    locale = r.text("DEFAULT_LOCALE", "zh-CN") or "zh-CN"
    if locale not in LOCALES:
        r.problems.append(wording("SONGDA_DEFAULT_LOCALE: must be zh-CN or en"))
    return locale


def policy_dir(r: Reader) -> Path | None:
    directory = r.path("POLICY_DIR")
    if directory is not None:
        try:
            load_policy_book(directory)
        except (PolicyError, OSError) as exc:
            r.problems.append(wording("SONGDA_POLICY_DIR: %(problem)s", problem=exc))
    return directory


def fonts_dir(r: Reader) -> Path | None:
    directory = r.path("FONTS_DIR")
    try:
        font_set(directory)
    except FontError as exc:
        r.problems.append(
            wording("SONGDA_FONTS_DIR: %(problem)s", problem=exc)
            if directory
            else wording("bundled fonts: %(problem)s", problem=exc)
        )
    return directory


def tsa(r: Reader) -> tuple[str | None, Path | None, float]:
    """The time-stamping authority: its URL, its certificate (required with a URL: without it
    no token can be checked) and the timeout of one request."""
    url = r.text("TSA_URL")
    if url and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc):
        r.problems.append(
            wording("SONGDA_TSA_URL: must be an absolute http(s) URL (RFC 3161 over HTTP)")
        )
    cert_path = r.path("TSA_CERT")
    if cert_path is not None:
        try:
            load_certificates(cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            r.problems.append(
                wording(
                    "SONGDA_TSA_CERT: %(path)s is not a PEM certificate (%(problem)s)",
                    path=cert_path,
                    problem=exc,
                )
            )
    elif url:
        r.problems.append(
            wording(
                "SONGDA_TSA_CERT: required with SONGDA_TSA_URL (the TSA's certificate or chain, "
                "PEM): without it no token can be checked"
            )
        )
    timeout = r.number("TSA_TIMEOUT", 10.0)
    if not 0 < timeout <= MAX_TSA_TIMEOUT:
        # Bounded: a job waiting on a slow TSA holds one worker slot, never longer than this.
        r.problems.append(
            wording(
                "SONGDA_TSA_TIMEOUT: seconds, more than 0 and at most %(maximum)s",
                maximum=MAX_TSA_TIMEOUT,
            )
        )
    return url, cert_path, timeout


def secrets_keys(r: Reader, data_dir: Path, sandbox: bool) -> tuple[str, ...]:
    text = r.text("SECRETS_KEY")
    if text is None:
        if sandbox:
            return (sandbox_key(data_dir),)
        r.problems.append(
            wording(
                "SONGDA_SECRETS_KEY: required (the key webhook signing secrets are encrypted with; "
                "`songda secrets new-key` prints one)"
            )
        )
        return ()
    keys = parse_keys(text)
    try:
        SecretBox(keys)
    except SecretKeyError as exc:
        r.problems.append(wording("SONGDA_SECRETS_KEY: %(problem)s", problem=exc))
    return keys


def webhook_targets(r: Reader, sandbox: bool) -> TargetPolicy:
    allowed = r.text("WEBHOOK_ALLOWED_TARGETS", SANDBOX_WEBHOOK_TARGETS if sandbox else "")
    networks, hosts, bad = parse_allow_list((allowed or "").split(","))
    if bad:
        r.problems.append(
            wording(
                "SONGDA_WEBHOOK_ALLOWED_TARGETS: neither a network (CIDR) nor a host name: "
                "%(values)s",
                values=", ".join(bad),
            )
        )
    return TargetPolicy(r.flag("WEBHOOK_ALLOW_HTTP", sandbox), networks, hosts)


def sandbox_host(r: Reader, host: str, sandbox: bool) -> None:
    if sandbox and host not in ("127.0.0.1", "::1", "localhost"):
        r.problems.append(
            wording(
                "SONGDA_HOST: sandbox mode serves its mailbox and clock without login, so it only "
                "listens on a loopback address (127.0.0.1)"
            )
        )
