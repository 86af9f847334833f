"""Chart geometry for server-rendered SVG (rendering only): numbers in, coordinates out.

The report page draws its charts without a script: this module turns series of values into
the positions of lines, dots, bars, ticks and labels, and templates/pages/report_charts.html
writes the SVG elements. Coordinates are in the SVG's own units (the ``viewBox``), so the chart
scales with the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 48  # room for the axes' labels


@dataclass(frozen=True)
class Tick:
    at: float  # y for the value axis, x for the category axis
    text: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    text: str  # the value, for the dot's tooltip


@dataclass(frozen=True)
class Line:
    name: str
    segments: list[str]  # polyline "x,y x,y …" runs; a missing value breaks the line
    dots: list[Dot]


@dataclass(frozen=True)
class Bar:
    series: int  # index of the series (colour and legend)
    x: float
    y: float
    width: float
    height: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    lines: list[Line]
    bars: list[Bar]


def _frame(
    x_ticks: list[Tick],
    y_ticks: list[Tick],
    *,
    lines: list[Line] | None = None,
    bars: list[Bar] | None = None,
) -> Chart:
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        lines=lines or [],
        bars=bars or [],
    )


def _y(value: float, top_value: float) -> float:
    """The y of ``value`` on an axis from 0 (bottom) to ``top_value`` (top)."""
    span = HEIGHT - BOTTOM - TOP
    return round(HEIGHT - BOTTOM - span * (value / top_value if top_value else 0), 1)


def _label_step(count: int) -> int:
    """Label every n-th category so that labels (about 70 units wide) do not overlap."""
    return max(1, -(-count * 70 // (WIDTH - LEFT - RIGHT)))


def rate_lines(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]
) -> Chart:
    """Rates (0 to 1) over categories (weeks), one line per series, y axis in percent."""
    count = len(labels)
    span = WIDTH - LEFT - RIGHT
    xs = [round(LEFT + span * (i + 0.5) / count, 1) for i in range(count)] if count else []
    lines = []
    for name, values in series:
        segments: list[str] = []
        run: list[str] = []
        dots = []
        for x, value in zip(xs, values, strict=True):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            y = _y(value, 1.0)
            run.append(f"{x},{y}")
            dots.append(Dot(x, y, f"{value * 100:.1f}%"))
        if run:
            segments.append(" ".join(run))
        lines.append(Line(name, segments, dots))
    step = _label_step(count)
    x_ticks = [Tick(x, labels[i]) for i, x in enumerate(xs) if i % step == 0]
    y_ticks = [Tick(_y(p / 100, 1.0), f"{p}%") for p in range(0, 101, 25)]
    return _frame(x_ticks, y_ticks, lines=lines)


def _nice_top(largest: int) -> int:
    """A round axis top at or above ``largest`` (1, 2, 5 × 10ⁿ), at least 1."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= largest:
                return factor * magnitude
        magnitude *= 10


def grouped_bars(labels: Sequence[str], series: Sequence[Sequence[int]]) -> Chart:
    """Counts per category (channels), one bar per series side by side."""
    count = len(labels)
    span = WIDTH - LEFT - RIGHT
    top = _nice_top(max((v for values in series for v in values), default=0))
    slot = span / count if count else span
    width = slot * 0.8 / max(1, len(series))
    bars = []
    for s, values in enumerate(series):
        for i, value in enumerate(values):
            y = _y(value, top)
            x = LEFT + slot * i + slot * 0.1 + width * s
            bars.append(
                Bar(s, round(x, 1), y, round(width, 1), round(HEIGHT - BOTTOM - y, 1), str(value))
            )
    x_ticks = [Tick(round(LEFT + slot * (i + 0.5), 1), label) for i, label in enumerate(labels)]
    y_ticks = [Tick(_y(value, top), str(value)) for value in sorted({0, top // 2, top})]
    return _frame(x_ticks, y_ticks, bars=bars)
