"""The bundled fonts (issue 11 §1, decision 0019), as on a machine with no font installed.

The whole suite runs with fontconfig pointed at an empty directory (``bare_machine``). Here: the
certificate's text comes back out of the PDF (court and recipient names) and only the bundled
fonts are embedded; the same certificate is byte-for-byte the same whatever fonts the machine
has; a character no font covers (生僻字) is named with its field, never drawn as a box, and a
supplementary font (``SONGDA_FONTS_DIR``) covers it; a broken one stops the configuration.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bare_machine import fontless_config, supplementary_font
from cli_runner import songda
from pypdf import PdfReader

from templates.certificate import certificate_pdf
from templates.fonts import MissingGlyphs, font_set
from templates.pdf import html_to_pdf
from tracking.certificate import CertificateView
from unit.builders import a_certificate_view

ROOT = Path(__file__).resolve().parents[3]
# 𫝀 (U+2B740, CJK Extension D): in no bundled font, as a rare name character may be.
RARE = "\U0002b740"


def certificate_view_zh() -> CertificateView:
    view: CertificateView = dataclasses.replace(a_certificate_view(), locale="zh-CN")
    return view


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(page.extract_text() for page in reader.pages).split())


def embedded_fonts(pdf: bytes) -> set[str]:
    """The base names of the fonts embedded in the PDF, without their subset tag."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts") or [font]
            for part in descendants:
                descriptor = part.get_object()["/FontDescriptor"].get_object()
                assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    return names


def test_the_test_machine_shows_no_font_to_fontconfig() -> None:
    """The premise of every PDF test: fontconfig sees no font at all."""
    if shutil.which("fc-list") is None:
        pytest.skip("fc-list is not installed: fontconfig cannot be asked directly")
    listed = subprocess.run(["fc-list"], capture_output=True, text=True, check=True).stdout
    assert os.environ["FONTCONFIG_FILE"].endswith("fonts.conf")
    assert listed.strip() == ""


def test_a_certificate_on_a_bare_machine_reads_and_embeds_the_bundled_fonts() -> None:
    pdf = certificate_pdf(certificate_view_zh(), font_set())
    text = text_of(pdf)
    for expected in ("杭州市西湖区人民法院", "张三", "送达回证", "(2026)浙0106民初1234号"):
        assert expected in text, expected
    assert embedded_fonts(pdf) == {"Songda-Sans", "Songda-Mono"}


def test_the_same_certificate_is_the_same_bytes_whatever_fonts_the_machine_has(
    tmp_path: Path,
) -> None:
    """Rendered in fresh processes, once as a bare machine and once with the machine's own
    fontconfig (fonts and rules, e.g. synthetic bold, if it has any): identical bytes."""
    view_file = tmp_path / "view.pickle"
    view_file.write_bytes(pickle.dumps(certificate_view_zh()))
    script = (
        "import pickle, sys\n"
        "from templates.certificate import certificate_pdf\n"
        "from templates.fonts import font_set\n"
        "view = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "sys.stdout.buffer.write(certificate_pdf(view, font_set()))\n"
    )
    sys_env = {k: v for k, v in os.environ.items() if k != "FONTCONFIG_FILE"}
    bare_env = {**sys_env, "FONTCONFIG_FILE": str(fontless_config(tmp_path / "bare"))}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, str(view_file)],
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            check=True,
            cwd=ROOT,
        ).stdout
        for env in (bare_env, sys_env)
    ]
    assert outputs[0][:5] == b"%PDF-"
    assert outputs[0] == outputs[1]


def test_a_character_outside_the_fonts_is_named_never_drawn() -> None:
    view = dataclasses.replace(certificate_view_zh(), recipient_name=f"王{RARE}")
    with pytest.raises(MissingGlyphs) as raised:
        certificate_pdf(view, font_set())
    assert raised.value.fields == {"recipient_name": [RARE]}
    assert "U+2B740" in str(raised.value) and "recipient_name" in str(raised.value)
    # Any PDF (mail piece, notice, print run) is checked on its whole text too.
    with pytest.raises(MissingGlyphs) as whole:
        html_to_pdf(f"<html><body><p>地址：{RARE}村</p></body></html>", font_set())
    assert whole.value.fields == {"text": [RARE]}


def test_a_supplementary_font_covers_it(tmp_path: Path) -> None:
    supplementary_font(tmp_path, RARE)
    fonts = font_set(tmp_path)
    assert [f.family for f in fonts.fonts][-1] == "Songda Extra A"
    view = dataclasses.replace(certificate_view_zh(), recipient_name=f"王{RARE}")
    pdf = certificate_pdf(view, fonts)
    assert "Songda-Extra-A" in embedded_fonts(pdf)
    assert f"王{RARE}" in text_of(pdf)


def test_a_broken_supplementary_font_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "broken.ttf").write_bytes(b"not a font")
    env = {"SONGDA_DATA_DIR": str(tmp_path / "var"), "SONGDA_FONTS_DIR": str(tmp_path)}
    checked = songda("config", "check", "--sandbox", env=env)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "SONGDA_FONTS_DIR" in checked.stdout and "broken.ttf" in checked.stdout
    (tmp_path / "broken.ttf").unlink()
    supplementary_font(tmp_path, RARE)
    checked = songda("config", "check", "--sandbox", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Noto Sans CJK SC 2.004 (bundled" in checked.stdout
    assert "(supplementary, 1 character)" in checked.stdout
