"""Rendering only: Jinja2 text and HTML for e-mail, SMS and pages, in zh-CN and en."""

from __future__ import annotations

from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from delivery.channel_api import ConfirmationRequestMessage
from delivery.domain import LOCALES
from delivery.vocabulary import Channel
from templates.i18n import language_name, supported, translations
from templates.labels import label
from templates.reasons import reason_text
from templates.texts import shown

TEMPLATE_DIR = Path(__file__).parent


def _local_time(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@cache
def environment(locale: str = LOCALES[0]) -> Environment:
    """The template environment speaking ``locale``: ``_()``, ``pgettext()``, ``label()`` and
    ``reason()`` (templates/reasons.py) answer from its catalogue (templates/i18n.py). One
    environment per language, built once."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        enable_async=False,
        # Templates ship with the code; checking their files for changes on every render cost
        # a stat() per message.
        auto_reload=False,
    )
    env.filters["local_time"] = _local_time
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["label"] = partial(label, locale)
    env.globals["shown"] = partial(shown, locale)
    env.globals["language_name"] = language_name
    env.globals["reason"] = partial(reason_text, locale)
    return env


def render(name: str, **context: Any) -> str:
    """``name`` rendered in the language of ``context["locale"]`` (zh-CN when there is none)."""
    locale = supported(str(context.get("locale", LOCALES[0])))
    return environment(locale).get_template(name).render(**context)


def locale_or_default(locale: str) -> str:
    return supported(locale)


def render_service_email(locale: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of the e-mail that carries a recipient's link."""
    context = {**context, "locale": locale_or_default(locale)}
    subject = render("email/service_subject.txt", **context).strip()
    text = render("email/service.txt", **context)
    html = render("email/service.html", **context)
    return subject, text, html


def render_code_message(
    channel: str, locale: str, *, name: str = "code", **context: Any
) -> tuple[str, str]:
    """(subject, text) of a short message (a one-time code, or ``name``'s template); the
    subject is empty for SMS."""
    context = {**context, "locale": locale_or_default(locale)}
    text = render(f"{channel}/{name}.txt", **context).strip()
    if channel != Channel.EMAIL:
        return "", text
    return render(f"email/{name}_subject.txt", **context).strip(), text


def render_confirmation_request(
    channel: str, message: ConfirmationRequestMessage
) -> tuple[str, str]:
    """(subject, text) of the request to confirm one's addresses online (CPL-INT-136)."""
    return render_code_message(
        channel,
        message.locale,
        name="confirmation_request",
        court=message.court,
        case_number=message.case_number,
        recipient_name=message.recipient_name,
        link_url=message.link_url,
        link_expires_at=message.link_expires_at,
        time_zone=message.time_zone,
    )
