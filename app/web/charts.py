"""Small inline SVG charts rendered on the server (no chart library, no script)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from app.executions.series import Point

WIDTH, HEIGHT, PAD = 600, 120, 24


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
    top = max((value(p) for p in points for _, _, value in series), default=0.0) or 1.0

    def x(p: Point) -> float:
        return PAD + (WIDTH - 2 * PAD) * (p.start - start).total_seconds() / span

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"'
        ' stroke="#999"/>',
        f'<text x="{PAD}" y="12">{escape(title)} (max {escape(unit(top))})</text>',
        f'<text x="{PAD}" y="{HEIGHT - 6}">{start:%m-%d %H:%M}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end">{end:%m-%d %H:%M}</text>',
    ]
    for index, (label, colour, value) in enumerate(series):
        coords = " ".join(f"{x(p):.1f},{y(value(p)):.1f}" for p in points)
        if coords:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{x(p):.1f}" cy="{y(value(p)):.1f}" r="2.5" fill="{colour}"/>'
                for p in points
            ]
        parts.append(
            f'<text x="{WIDTH - PAD - 90 * (len(series) - index)}" y="12" fill="{colour}">'
            f"■ {escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


SCATTER_HEIGHT = 240


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
