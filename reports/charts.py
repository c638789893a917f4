"""Charts as hand-written inline SVG: no CDN, no JavaScript, text stays text (CJK labels use
the page's fonts, so they render offline wherever the report's text does). Every label is
escaped here, because the caller marks the result safe."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
COLORS = ("#9b1c1c", "#7b8794", "#2d3a8c", "#207227", "#b7791f")


def _t(text: object, redact: Callable[[str], str]) -> str:
    return escape(redact(str(text)), quote=True)


def hbars(rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], *,
          title: str, vmax: float = 100.0, fmt: str = "{:.1f}", label_width: int = 150,
          redact: Callable[[str], str] = str) -> Markup:
    """Horizontal (grouped) bars: one row per label, one bar per series."""
    bar, gap, width = 12, 8, 760
    plot = width - label_width - 70
    group = bar * len(series) + gap
    top = 44 if len(series) > 1 else 28
    height = top + group * len(rows) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_t(title, redact)}" font-family="{FONT}" '
           'font-size="12">', f'<title>{_t(title, redact)}</title>',
           f'<text x="0" y="16" font-size="14" font-weight="600">{_t(title, redact)}</text>']
    if len(series) > 1:
        for i, name in enumerate(series):
            x = label_width + i * 140
            out.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
                       f'<text x="{x + 14}" y="33">{_t(name, redact)}</text>')
    for r, (label, values) in enumerate(rows):
        y = top + r * group
        out.append(f'<text x="{label_width - 6}" y="{y + group / 2}" text-anchor="end" '
                   f'dominant-baseline="middle">{_t(label, redact)}</text>')
        for i, value in enumerate(values):
            yy = y + i * bar
            if value is None:
                out.append(f'<text x="{label_width + 4}" y="{yy + bar - 2}" fill="#7b8794">–</text>')
                continue
            w = max(0.0, min(1.0, value / vmax)) * plot if vmax else 0
            out.append(f'<rect x="{label_width}" y="{yy}" width="{w:.1f}" height="{bar - 2}" '
                       f'fill="{COLORS[i % len(COLORS)]}"/>'
                       f'<text x="{label_width + w + 4:.1f}" y="{yy + bar - 3}">{escape(fmt.format(value))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def histogram(values: Sequence[float], *, title: str, bins: int = 10, lo: float = 0.0,
              hi: float = 100.0, redact: Callable[[str], str] = str) -> Markup:
    """Counts of scores per bin (the last bin includes ``hi``)."""
    counts = [0] * bins
    for v in values:
        i = min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))
        counts[i] += 1
    width, height, left, bottom = 360, 200, 34, 36
    plot_w, plot_h = width - left - 18, height - bottom - 28
    peak = max(counts) or 1
    bw = plot_w / bins
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_t(title, redact)}" font-family="{FONT}" '
           'font-size="11">', f'<title>{_t(title, redact)}</title>',
           f'<text x="0" y="16" font-size="13" font-weight="600">{_t(title, redact)}</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{left + plot_w}" y2="{height - bottom}" stroke="#9aa5b1"/>']
    for i, n in enumerate(counts):
        h = n / peak * plot_h
        x = left + i * bw
        out.append(f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                   f'fill="{COLORS[0]}"><title>{lo + i * (hi - lo) / bins:.0f}–{lo + (i + 1) * (hi - lo) / bins:.0f}: '
                   f'{n}</title></rect>')
        if n:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - bottom - h - 3:.1f}" text-anchor="middle">{n}</text>')
    for i in range(0, bins + 1, 2):
        x = left + i * bw
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                   f'{lo + i * (hi - lo) / bins:.0f}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#52606d">'
               f'得分 score · 共 {len(values)} 条热线</text></svg>')
    return Markup("".join(out))
