"""Code 128 (code set B) barcodes drawn as SVG, for the tracking number on address labels."""

from __future__ import annotations

import base64

# Bar/space widths in modules for symbol values 0-106 (ISO/IEC 15417); 106 is STOP with its
# final bar. Every symbol is 11 modules wide, STOP 13.
_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
)
PATTERNS = tuple(_TABLE.split())
START_B = 104
STOP = 106
QUIET = 10  # modules of white on each side


def code128_values(text: str) -> list[int]:
    """Symbol values (start B, data, checksum, stop); ValueError outside ASCII 32-126."""
    if not text or any(not 32 <= ord(c) <= 126 for c in text):
        raise ValueError("code set B encodes printable ASCII only")
    data = [ord(c) - 32 for c in text]
    checksum = (START_B + sum(i * v for i, v in enumerate(data, start=1))) % 103
    return [START_B, *data, checksum, STOP]


def code128_svg(text: str, height: int = 40) -> str:
    widths = "".join(PATTERNS[v] for v in code128_values(text))
    x = QUIET
    bars = []
    for i, w in enumerate(int(c) for c in widths):
        if i % 2 == 0:
            bars.append(f'<rect x="{x}" y="0" width="{w}" height="{height}"/>')
        x += w
    total = x + QUIET
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {height}" '
        f'preserveAspectRatio="none"><rect width="{total}" height="{height}" fill="#fff"/>'
        f'<g fill="#000">{"".join(bars)}</g></svg>'
    )


def code128_data_uri(text: str) -> str:
    svg = code128_svg(text).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
