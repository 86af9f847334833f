"""The SMS providers' settings: Alibaba Cloud SMS (its templates per court), the routes that
order the providers by number, and the failover's thresholds (docs/decisions/0044, 0045).

Read by :func:`delivery.config.load_settings` with the same :class:`~delivery.config_checks.Reader`,
so ``songda config check`` names every problem here together with the others.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from delivery.config_checks import Reader, together
from delivery.vocabulary import SmsProvider
from templates.texts import wording

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com"
# Mainland mobile numbers go to the domestic provider first; every other number to Twilio.
DEFAULT_ROUTES = "+861=aliyun,twilio;*=twilio"
# The sandbox sends through the Twilio stand-in first, whose messages its mailbox page shows;
# SONGDA_SMS_ROUTES sends mainland numbers to the Alibaba stand-in (it reports delivery itself).
SANDBOX_ROUTES = "*=twilio,aliyun"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CourtTemplates:
    """A court's sender signature (签名) and its registered template codes, one per message kind:
    the notice of service, the identity-check code and the request to confirm one's addresses
    (送达地址确认书)."""

    sign_name: str | None = None
    service_template: str | None = None
    code_template: str | None = None
    confirm_template: str | None = None

    def missing(self) -> list[str]:
        names = ("sign_name", "service_template", "code_template", "confirm_template")
        return [name for name in names if not getattr(self, name)]

    def over(self, defaults: CourtTemplates) -> CourtTemplates:
        """This court's values, each missing one taken from ``defaults``."""
        return CourtTemplates(
            self.sign_name or defaults.sign_name,
            self.service_template or defaults.service_template,
            self.code_template or defaults.code_template,
            self.confirm_template or defaults.confirm_template,
        )


@dataclass(frozen=True)
class AliyunSettings:
    """Alibaba Cloud SMS (``SONGDA_ALIYUN_*``).

    Its pushes (delivery reports, uplink messages) are not signed: Songda gives it a callback
    URL holding ``callback_secret`` and takes pushes only from ``callback_sources``.
    """

    access_key_id: str | None = None
    access_key_secret: str | None = field(default=None, repr=False)
    endpoint: str = ALIYUN_ENDPOINT
    defaults: CourtTemplates = CourtTemplates()
    courts: dict[str, CourtTemplates] = field(default_factory=dict)
    callback_secret: str | None = field(default=None, repr=False)
    callback_sources: tuple[IpNetwork, ...] = ()
    timeout: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.access_key_id and self.access_key_secret)

    def templates(self, court: str) -> CourtTemplates:
        return self.courts.get(court, CourtTemplates()).over(self.defaults)


@dataclass(frozen=True)
class SmsRoute:
    """Numbers starting with ``prefix`` (``*``: any) go to ``providers``, in that order."""

    prefix: str
    providers: tuple[SmsProvider, ...]

    def matches(self, number: str) -> bool:
        return self.prefix == "*" or number.startswith(self.prefix)


@dataclass(frozen=True)
class SmsHealth:
    """When a provider is demoted, and when it is tried again (docs/decisions/0045).

    Over the last ``window``: a provider with at least ``min_samples`` sends is demoted when
    ``max_error_percent`` of them failed on the provider's side (refused, or no answer), or when
    ``max_slow_percent`` of its accepted messages had no receipt within ``slow_receipt``.
    ``probe_after`` a demotion it is put back on trial.
    """

    window: timedelta = timedelta(minutes=15)
    min_samples: int = 5
    max_error_percent: int = 50
    slow_receipt: timedelta = timedelta(minutes=5)
    max_slow_percent: int = 50
    probe_after: timedelta = timedelta(minutes=10)
    # How long after sending a message with no receipt its provider is asked (polling).
    poll_after: timedelta = timedelta(minutes=10)
    poll_for: timedelta = timedelta(days=2)


@dataclass(frozen=True)
class SmsRouting:
    routes: tuple[SmsRoute, ...] = field(default_factory=lambda: parse_routes(DEFAULT_ROUTES)[0])
    health: SmsHealth = SmsHealth()

    def providers_for(self, number: str) -> tuple[SmsProvider, ...]:
        """The providers for ``number``, in order: the first route that matches."""
        return next((r.providers for r in self.routes if r.matches(number)), ())


def parse_routes(text: str) -> tuple[tuple[SmsRoute, ...], list[str]]:
    """``prefix=provider,provider;…`` into routes, and the parts that are not valid."""
    routes: list[SmsRoute] = []
    bad: list[str] = []
    for part in (p.strip() for p in text.split(";")):
        prefix, _, names = part.partition("=")
        prefix = prefix.strip()
        listed = [n.strip() for n in names.split(",") if n.strip()]
        valid = (prefix == "*" or prefix.lstrip("+").isdigit()) and listed
        if not part or not valid or any(n not in SmsProvider.__members__.values() for n in listed):
            bad.append(part)
            continue
        routes.append(SmsRoute(prefix, tuple(SmsProvider(n) for n in listed)))
    return tuple(routes), bad


def _court_file(r: Reader) -> dict[str, CourtTemplates]:
    """``SONGDA_ALIYUN_COURTS_FILE``: a TOML table per court name with its ``sign_name``,
    ``service_template``, ``code_template`` and ``confirm_template``."""
    path = r.path("ALIYUN_COURTS_FILE")
    if path is None:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        r.problems.append(
            wording("SONGDA_ALIYUN_COURTS_FILE: cannot be read: %(error)s", error=str(exc))
        )
        return {}
    courts: dict[str, CourtTemplates] = {}
    for court, table in data.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            r.problems.append(
                wording(
                    "SONGDA_ALIYUN_COURTS_FILE: [%(court)s] must hold text values only",
                    court=court,
                )
            )
            continue
        courts[court] = CourtTemplates(
            table.get("sign_name"),
            table.get("service_template"),
            table.get("code_template"),
            table.get("confirm_template"),
        )
    return courts


def _sources(r: Reader) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for item in (r.text("ALIYUN_CALLBACK_SOURCES") or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            r.problems.append(
                wording(
                    "SONGDA_ALIYUN_CALLBACK_SOURCES: %(value)s is not a network (CIDR)",
                    value=item.strip(),
                )
            )
    return tuple(networks)


def aliyun(r: Reader, court_name: str) -> AliyunSettings:
    """Alibaba Cloud SMS: keys (both or neither), endpoint, the templates of every court it may
    send for — the default court's and each in the courts file — and the callback's guard."""
    settings = AliyunSettings(
        access_key_id=r.text("ALIYUN_ACCESS_KEY_ID"),
        access_key_secret=r.text("ALIYUN_ACCESS_KEY_SECRET"),
        endpoint=(r.text("ALIYUN_ENDPOINT") or ALIYUN_ENDPOINT).rstrip("/"),
        defaults=CourtTemplates(
            r.text("ALIYUN_SIGN_NAME"),
            r.text("ALIYUN_SERVICE_TEMPLATE"),
            r.text("ALIYUN_CODE_TEMPLATE"),
            r.text("ALIYUN_CONFIRM_TEMPLATE"),
        ),
        courts=_court_file(r),
        callback_secret=r.text("ALIYUN_CALLBACK_SECRET"),
        callback_sources=_sources(r),
        timeout=r.number("ALIYUN_TIMEOUT", 10.0),
    )
    together(
        r,
        (settings.access_key_id, settings.access_key_secret),
        wording(
            "SONGDA_ALIYUN_ACCESS_KEY_ID and SONGDA_ALIYUN_ACCESS_KEY_SECRET go together (leave "
            "both unset to run without Alibaba Cloud SMS)"
        ),
    )
    if urlsplit(settings.endpoint).scheme not in {"http", "https"}:
        r.problems.append(wording("SONGDA_ALIYUN_ENDPOINT: must be an absolute http(s) URL"))
    if not settings.configured:
        return settings
    for court in sorted({court_name, *settings.courts}):
        for name in settings.templates(court).missing():
            r.problems.append(
                wording(
                    "Alibaba Cloud SMS has no %(name)s for the court %(court)s "
                    "(SONGDA_ALIYUN_%(setting)s, or the court's table in "
                    "SONGDA_ALIYUN_COURTS_FILE)",
                    name=name,
                    court=court,
                    setting=name.upper(),
                )
            )
    if not settings.callback_secret or len(settings.callback_secret) < 16:
        r.problems.append(
            wording(
                "SONGDA_ALIYUN_CALLBACK_SECRET: at least 16 characters, the secret in the "
                "callback URLs given to Alibaba Cloud (its reports are not signed)"
            )
        )
    if not settings.callback_sources:
        r.problems.append(
            wording(
                "SONGDA_ALIYUN_CALLBACK_SOURCES: the networks (CIDR) Alibaba Cloud's reports "
                "come from; reports from anywhere else are refused"
            )
        )
    return settings


def routing(r: Reader, sandbox: bool) -> SmsRouting:
    default = SANDBOX_ROUTES if sandbox else DEFAULT_ROUTES
    routes, bad = parse_routes(r.text("SMS_ROUTES", default) or default)
    if bad:
        r.problems.append(
            wording(
                "SONGDA_SMS_ROUTES: prefix=provider,provider;… (providers: %(known)s): %(values)s",
                known=", ".join(SmsProvider),
                values=" ; ".join(bad),
            )
        )
    minutes = timedelta(minutes=1)
    return SmsRouting(
        routes=routes,
        health=SmsHealth(
            window=r.integer("SMS_HEALTH_WINDOW_MINUTES", 15) * minutes,
            min_samples=r.integer("SMS_HEALTH_MIN_SAMPLES", 5),
            max_error_percent=r.integer("SMS_MAX_ERROR_PERCENT", 50),
            slow_receipt=r.integer("SMS_SLOW_RECEIPT_SECONDS", 300) * timedelta(seconds=1),
            max_slow_percent=r.integer("SMS_MAX_SLOW_PERCENT", 50),
            probe_after=r.integer("SMS_PROBE_AFTER_MINUTES", 10) * minutes,
            poll_after=r.integer("SMS_POLL_AFTER_MINUTES", 10) * minutes,
        ),
    )
