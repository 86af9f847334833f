"""What a person reads on a page, and what on it is code rather than words (test_page_crawl.py).

Visible text is the text of the document minus ``<script>``, ``<style>`` and ``<template>``,
plus the attributes a person reads or hears: ``title``, ``alt``, ``aria-label``,
``placeholder`` and the ``value`` of a submit button. Data (names, addresses, titles, notes,
what a provider said) is removed before the checks: it is shown in whatever language it came;
so is a text node that is part of a data string (a link splits a line of an e-mail in two).

zh-CN fails on snake_case and on any ASCII word of three letters or more, except:
- text marked up as typed or copied verbatim (``<code>``, ``<kbd>``, ``<samp>``, ``<pre>``: a
  command to run);
- identifiers a person copies rather than reads: e-mail addresses, URLs and paths, rule ids
  (``CPL-91``, ``CPL-INT-131``, ``PM-11``), hashes and ids, notice codes, tracking numbers,
  file names, IANA time zones (``Asia/Shanghai``: the standard name, shown with the times);
- :data:`ALLOWED_WORDS`: file formats, units and character encodings Chinese text writes in
  Latin letters (PDF, JPEG, KB, GBK…), the product's name, and "English" on the language switch
  (a language is named in itself).
en fails on any CJK character or full-width punctuation, except "中文" on the language switch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

HIDDEN = frozenset({"script", "style", "template"})
# What a person types or copies as it is (a command, a hash): marked up as such, never words.
VERBATIM = frozenset({"code", "kbd", "samp", "pre"})
READ_ATTRIBUTES = frozenset({"title", "alt", "aria-label", "placeholder"})
BUTTON_INPUTS = frozenset({"submit", "button", "reset"})
ALLOWED_WORDS = frozenset(
    {"PDF", "JPEG", "PNG", "WebP", "MOV", "WebM", "CSV", "ZIP", "SHA", "KB", "MB", "GBK"}
    | {"Songda", "English"}
    # Written in Latin letters in Chinese technical text: "API 密钥", "ISO 周".
    | {"API", "ISO"}
)
ALLOWED_CJK = ("中文",)
IDENTIFIERS = re.compile(
    "|".join(
        (
            r"[\w.+-]+\*{0,3}@[\w-]+(?:\.[\w-]+)+",  # e-mail addresses (masked too)
            r"https?://\S+",  # URLs
            r"(?<![\w.])(?:/[\w.\-]+){2,}",  # paths (files, routes)
            r"\b[A-Z]{2,5}(?:-[A-Z]{2,5})*-\d+[a-z]?\b",  # rule ids
            r"\b[0-9a-fA-F]{8,}\b",  # hashes, key ids
            r"\b[0-9A-HJKMNP-TV-Z]{26}\b",  # ids (ULID)
            r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b",  # notice codes
            r"\b[A-Z]{2,4}\d{6,}[A-Z]{0,2}\b",  # tracking numbers
            r"[\w\-.]+\.(?:pdf|csv|zip|jpe?g|png|webp|mp4|mov|webm|json)\b",  # file names
            r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b",  # IANA time zones
        )
    )
)
# Text at least this long found inside a data string is data (shorter could be a code by chance).
PIECE_OF_DATA = 8
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
WORD = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN or tag in VERBATIM:
            self._hidden += 1
            return
        named = dict(attrs)
        self.parts += [v for k, v in attrs if k in READ_ATTRIBUTES and v]
        if tag == "input" and named.get("type") in BUTTON_INPUTS and named.get("value"):
            self.parts.append(str(named["value"]))

    def handle_endtag(self, tag: str) -> None:
        if (tag in HIDDEN or tag in VERBATIM) and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data)


def visible_text(html: str) -> list[str]:
    """The page's visible text, one piece per text node or read attribute, spaces collapsed."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return [" ".join(p.split()) for p in parser.parts]


@dataclass(frozen=True)
class Finding:
    page: str
    locale: str
    token: str
    context: str

    def __str__(self) -> str:
        return f"{self.locale} {self.page}: {self.token!r} in {self.context!r}"


def without_data(text: str, data: list[str]) -> str:
    """``text`` with every data string (longest first) blanked out."""
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    return text


def findings(page: str, locale: str, html: str, data: list[str]) -> list[Finding]:
    """Code on the page where words should be, by the rules of the module docstring."""
    found: list[Finding] = []
    # A piece of a data string (a line of a notice or an e-mail that a link splits in two).
    whole = "\n".join(" ".join(d.split()) for d in data)
    for piece in visible_text(html):
        if len(piece) >= PIECE_OF_DATA and piece in whole:
            continue
        text = without_data(piece, data)
        if locale == "en":
            tokens = [m.group() for m in CJK.finditer(text) if m.group() not in ALLOWED_CJK]
        else:
            text = IDENTIFIERS.sub(" ", text)
            tokens = SNAKE.findall(text) + [
                w for w in WORD.findall(SNAKE.sub(" ", text)) if w not in ALLOWED_WORDS
            ]
        found += [Finding(page, locale, t, piece[:160]) for t in tokens]
    return found
