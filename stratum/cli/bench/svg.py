"""Horizontal bar charts as plain SVG text: no plotting library, no fonts or files to fetch.

Used inline by the HTML report of ``stratum bench`` and as standalone ``.svg`` files by
``bench/report.py`` (``standalone=True`` adds the XML namespace a file needs).
"""
from __future__ import annotations

from html import escape

PLAIN = "#8c8c8c"
STRATUM = "#2f6fb3"
PARTS = ("#b3b3b3", "#d9822b", "#3f9c5a", "#2f6fb3", "#8e5ea2")

_ROW = 18
_BAR_W = 440
_FONT = 'font-family="sans-serif" font-size="11"'


def _open(width: int, height: int, title: str, standalone: bool) -> list[str]:
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    return [f'<svg{ns} width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(title)}">',
            f'<title>{escape(title)}</title>',
            f'<text x="4" y="14" {_FONT} font-weight="bold">{escape(title)}</text>']


def _legend(items: list[tuple[str, str]], y: int) -> list[str]:
    out, x = [], 4
    for name, color in items:
        out.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{y + 9}" {_FONT}>{escape(name)}</text>')
        x += 24 + 6 * len(name)
    return out


def _label_w(labels: list[str]) -> int:
    """Room for the longest label (11px sans-serif: about 6.5 px a character)."""
    return int(max([12, *map(len, labels)]) * 6.5) + 12


def _scale(values) -> float:
    top = max((v for v in values if v), default=0.0)
    return _BAR_W / top if top > 0 else 0.0


def grouped_bars(title: str, labels: list[str], series: list[tuple[str, str, list[float]]],
                 unit: str = "s", standalone: bool = False) -> str:
    """One group per label, one bar per series (name, colour, values), value written at the end."""
    k = len(series)
    group_h = _ROW * k + 8
    height = 40 + group_h * len(labels) + 10
    label_w = _label_w(labels)
    width = label_w + _BAR_W + 90
    scale = _scale(v for _, _, vals in series for v in vals)
    out = _open(width, height, title, standalone) + _legend([(n, c) for n, c, _ in series], 22)
    for g, label in enumerate(labels):
        y0 = 40 + g * group_h
        out.append(f'<text x="{label_w - 6}" y="{y0 + _ROW * k / 2 + 4:.0f}" text-anchor="end" '
                   f'{_FONT}>{escape(label)}</text>')
        for j, (_, color, vals) in enumerate(series):
            v = vals[g] if g < len(vals) else None
            y = y0 + j * _ROW
            w = (v or 0.0) * scale
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{_ROW - 3}" '
                       f'fill="{color}"/>')
            text = "n/a" if v is None else f"{v:.3g} {unit}"
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + _ROW - 6}" {_FONT}>'
                       f'{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def stacked_bars(title: str, labels: list[str], parts: list[tuple[str, list[float]]],
                 unit: str = "s", standalone: bool = False) -> str:
    """One bar per label split into parts (name, values); the total written at the end."""
    height = 40 + 16 * ((len(parts) + 1) // 2) + _ROW * len(labels) + 10
    label_w = _label_w(labels)
    width = max(label_w + _BAR_W + 90, 760)
    totals = [sum(vals[i] or 0.0 for _, vals in parts) for i in range(len(labels))]
    scale = _scale(totals)
    colors = [PARTS[i % len(PARTS)] for i in range(len(parts))]
    out = _open(width, height, title, standalone)
    for i in range(0, len(parts), 2):  # two legend entries per line: the names are long
        out += _legend([(parts[j][0], colors[j]) for j in range(i, min(i + 2, len(parts)))],
                       22 + 16 * (i // 2))
    top = 40 + 16 * ((len(parts) + 1) // 2) - 14
    for g, label in enumerate(labels):
        y = top + g * _ROW
        out.append(f'<text x="{label_w - 6}" y="{y + _ROW - 6}" text-anchor="end" {_FONT}>'
                   f'{escape(label)}</text>')
        x = float(label_w)
        for (name, vals), color in zip(parts, colors):
            w = (vals[g] or 0.0) * scale
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 3}" '
                       f'fill="{color}"><title>{escape(name)}: {vals[g] or 0.0:.3f} {unit}'
                       f'</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + _ROW - 6}" {_FONT}>'
                   f'{totals[g]:.3g} {unit}</text>')
    out.append("</svg>")
    return "\n".join(out)
