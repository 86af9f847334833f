"""PDF rendering (WeasyPrint) and QR codes, synchronous: call through
``delivery.infra.pdf_rendering``, which keeps it off the event loop.

Only ``data:`` URIs (embedded images, e.g. QR codes) and the bundled fonts (``songda-font:``,
``templates.fonts``) may be fetched while rendering: file:// and network URLs are refused, so a
template value can never make the renderer read a local file or call out, and the fonts come
from the package, never from the machine. Before a page is laid out, every character of its text
is checked against the fonts (WeasyPrint would draw a missing glyph as a box and say nothing):
:class:`templates.fonts.MissingGlyphs` stops the PDF instead.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import warnings
from html.parser import HTMLParser
from typing import Any

# Fontconfig with no font of the machine is what we want (see font_configuration); WeasyPrint
# checks the machine's fonts when it is imported and would warn of "ugly output".
warnings.filterwarnings("ignore", "No fonts configured in FontConfig", UserWarning)

import qrcode  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

from templates.fonts import FONT_DIR, FontSet, MissingGlyphs, uncovered  # noqa: E402

# WeasyPrint logs every layout step at INFO: keep its warnings, not the progress chatter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
FONTS_CONF = FONT_DIR / "fonts.conf"

# One WeasyPrint font configuration per font set and process: it loads each font file once
# (the CJK face is 16 MB) and keeps it for every later render in this worker.
_font_configs: dict[FontSet, FontConfiguration] = {}


class _FontFetcher(URLFetcher):  # type: ignore[misc]
    """``data:`` URIs, and exactly the font files of the set by their ``songda-font:`` URL."""

    def __init__(self, fonts: FontSet) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)
        self._fonts = fonts

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        font = self._fonts.file(url)
        if font is None:
            return super().fetch(url, headers)
        return URLFetcherResponse(
            url, font.path.read_bytes(), headers={"Content-Type": font.media_type}
        )


class _Text(HTMLParser):
    """The text a page draws: character data outside ``<style>``, ``<script>`` and ``<title>``."""

    HIDDEN = frozenset({"style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in self.HIDDEN and self._hidden > 0

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def html_to_pdf(html: str, fonts: FontSet) -> bytes:
    """Render a self-contained HTML document to PDF bytes (CPU-bound; not on the event loop),
    drawn only with ``fonts`` — or raise :class:`MissingGlyphs` when its text has a character
    none of them covers."""
    if missing := uncovered(page_text(html), fonts):
        raise MissingGlyphs({"text": missing})
    return weasyprint_pdf(html, fonts)


def weasyprint_pdf(html: str, fonts: FontSet) -> bytes:
    """WeasyPrint alone on ``html``, drawn with ``fonts`` (no check: :func:`html_to_pdf` is
    the one to call; this is also the benchmark's "raw WeasyPrint")."""
    config = font_configuration(fonts)
    fetcher = _FontFetcher(fonts)
    # The fonts are loaded here, not left to each template: an HTML document without them would
    # find no font at all (fontconfig sees none) and crash Pango.
    fonts_css = CSS(
        string=f"{fonts.css}\nhtml {{ font-family: {fonts.sans}; }}",
        url_fetcher=fetcher,
        font_config=config,
    )
    document = HTML(string=html, url_fetcher=fetcher, base_url=None)
    pdf: bytes = document.write_pdf(stylesheets=[fonts_css], font_config=config)
    return pdf


def font_configuration(fonts: FontSet) -> FontConfiguration:
    """This process's WeasyPrint font configuration for ``fonts``, made once.

    Fontconfig is first pointed at :data:`FONTS_CONF`, which has no font directory and no rule:
    the machine's fonts and its fontconfig rules (synthetic bold, hinting) would otherwise make
    the same certificate differ from machine to machine. Renders run in the pool's own worker
    processes, so setting the variable there changes nothing else."""
    config = _font_configs.get(fonts)
    if config is None:
        os.environ["FONTCONFIG_FILE"] = str(FONTS_CONF)
        config = _font_configs[fonts] = FontConfiguration()
    return config


def qr_data_uri(text: str, *, box_size: int = 6, border: int = 2) -> str:
    """A PNG QR code of ``text`` as a ``data:`` URI, to embed in HTML."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border
    )
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
