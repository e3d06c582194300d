"""Small inline SVG charts rendered on the server (no chart library, no script).

Each chart has a y-axis with labelled ticks in its unit, a time axis, and a legend whose
swatches are drawn shapes: the stylesheet greys every chart text, so a legend coloured by
its text's fill showed no colour at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from app.executions.series import Point

WIDTH, HEIGHT = 600, 140
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 24, 22  # room for tick labels, the legend and the times
# Intervals on the y-axis by the top's leading digit, so every tick is a round number.
_STEPS = {1.0: 5, 2.0: 4, 2.5: 5, 5.0: 5, 10.0: 5}


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (0 when nothing
    is above 0), so the ticks read as round numbers."""
    if value <= 0:
        return 0.0
    scale = 10.0 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= value * (1 - 1e-9))


def _steps(top: float) -> int:
    leading = round(top / 10 ** math.floor(math.log10(top)), 3)
    return _STEPS.get(leading, 4)


def count(value: float) -> str:
    """A number of calls on an axis (a half where the scale is small)."""
    return f"{value:g}"


def dollars(value: float) -> str:
    """A cost on an axis: `$0`, cents as `$0.05`, fractions of a cent as `$0.0004`."""
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if value >= 0.01 else f"${value:.2g}"


def line_chart(
    points: Sequence[Point],
    series: Sequence[tuple[str, str, Callable[[Point], float]]],
    *,
    title: str,
    start: datetime,
    end: datetime,
    unit: Callable[[float], str],
) -> Markup:
    """One SVG with a line per series (label, colour, value) over [start, end]."""
    span = max((end - start).total_seconds(), 1.0)
    top = nice_ceiling(max((value(p) for p in points for _, _, value in series), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(p: Point) -> float:
        return LEFT + plot_w * (p.start - start).total_seconds() / span

    def y(v: float) -> float:
        # Everything at zero (no cost yet) sits on the axis: the scale then has one tick, 0.
        return TOP + plot_h - (plot_h * v / top if top else 0.0)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="14" class="chart-title">{escape(title)}</text>',
        *_y_axis(top, unit, y),
        *_x_axis(start, end),
    ]
    for _, colour, value in series:
        coords = " ".join(f"{x(p):.1f},{y(value(p)):.1f}" for p in points)
        if coords:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{x(p):.1f}" cy="{y(value(p)):.1f}" r="2.5" fill="{colour}"/>'
                for p in points
            ]
    parts += _legend(series)
    parts.append("</svg>")
    return Markup("".join(parts))


def _y_axis(top: float, unit: Callable[[float], str], y: Callable[[float], float]) -> list[str]:
    values = [top * i / _steps(top) for i in range(_steps(top) + 1)] if top else [0.0]
    parts = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y(0):.1f}" stroke="#999"/>']
    for value in values:
        at = y(value)
        parts += [
            f'<line x1="{LEFT - 4}" y1="{at:.1f}" x2="{WIDTH - RIGHT}" y2="{at:.1f}" '
            f'stroke="#999" stroke-opacity="{0.8 if value == 0 else 0.2}"/>',
            f'<text x="{LEFT - 6}" y="{at + 3:.1f}" text-anchor="end" class="tick">'
            f"{escape(unit(value))}</text>",
        ]
    return parts


def _x_axis(start: datetime, end: datetime) -> list[str]:
    middle = start + (end - start) / 2
    base = HEIGHT - 6
    return [
        f'<text x="{LEFT}" y="{base}" class="tick">{start:%m-%d %H:%M}</text>',
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{base}" text-anchor="middle" '
        f'class="tick">{middle:%m-%d %H:%M}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{base}" text-anchor="end" class="tick">'
        f"{end:%m-%d %H:%M}</text>",
    ]


def _legend(series: Sequence[tuple[str, str, Callable[[Point], float]]]) -> list[str]:
    parts = []
    for index, (label, colour, _) in enumerate(series):
        left = WIDTH - RIGHT - 80 * (len(series) - index)
        parts += [
            f'<rect x="{left}" y="6" width="14" height="4" rx="1" fill="{colour}" '
            f'class="swatch" data-series="{escape(label)}"/>',
            f'<text x="{left + 18}" y="12">{escape(label)}</text>',
        ]
    return parts


SCATTER_HEIGHT, PAD = 240, 24  # the cost-vs-pass-rate chart: its height and margins


def cost_pass_chart(
    points: Sequence[tuple[str, float | None, float]], *, recommended: str | None
) -> Markup:
    """One SVG placing each model (label, cost per valid call, pass rate): cost across on a
    log scale (prices differ by orders of magnitude), pass rate up; the recommended model
    drawn larger. Models without a valid call sit at the left edge."""
    title = "Cost per valid call vs pass rate"
    costs = [c for _, c, _ in points if c is not None and c > 0]
    low, high = (math.log10(min(costs)), math.log10(max(costs))) if costs else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    inner_w, inner_h = WIDTH - 4 * PAD, SCATTER_HEIGHT - 4 * PAD

    def x(cost: float | None) -> float:
        if cost is None or cost <= 0:
            return PAD
        return 2 * PAD + inner_w * (math.log10(cost) - low) / (high - low)

    def y(rate: float) -> float:
        return SCATTER_HEIGHT - 2 * PAD - inner_h * rate

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {SCATTER_HEIGHT}" role="img" aria-label="{title}"'
        ' id="cost-pass-chart">',
        f"<title>{title}</title>",
        f'<text x="{PAD}" y="14">{title} (log scale, USD)</text>',
        f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{y(1):.1f}" x2="{WIDTH - PAD}" y2="{y(1):.1f}" stroke="#ddd"/>',
        f'<text x="{PAD}" y="{y(1) - 4:.1f}">100%</text>',
        f'<text x="{PAD}" y="{y(0) + 14:.1f}">0%</text>',
    ]
    if costs:  # the cost axis's ends (none when every call was free)
        parts += [
            f'<text x="{2 * PAD}" y="{SCATTER_HEIGHT - 6}">${10**low:.2g}</text>',
            f'<text x="{WIDTH - 2 * PAD}" y="{SCATTER_HEIGHT - 6}" text-anchor="end">'
            f"${10**high:.2g}</text>",
        ]
    for label, cost, rate in points:
        chosen = label == recommended
        colour = "#2a9d8f" if chosen else "#e76f51" if rate < 1 else "#264653"
        parts.append(
            f'<circle cx="{x(cost):.1f}" cy="{y(rate):.1f}" r="{7 if chosen else 4}"'
            f' fill="{colour}" data-model="{escape(label)}"/>'
        )
        parts.append(
            f'<text x="{x(cost) + 9:.1f}" y="{y(rate) + 4:.1f}">{escape(label)}'
            f"{' (recommended)' if chosen else ''}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
