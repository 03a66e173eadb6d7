"""What the server-rendered pages share (the portal's and finance's): the page around a
body, and a bar chart as inline SVG. No script, no build step; every value is escaped."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from billing_dagster.formatting import is_number

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #eee; height: .7rem; width: 12rem; display: inline-block; }
.bar span { background: #3b6; height: 100%; display: block; }
.bar.over span { background: #c43; }
nav a { margin-right: .8rem; } .muted { color: #777; }
svg rect { fill: #3b6; } svg rect.negative { fill: #c43; }
svg text { font-size: 10px; text-anchor: middle; fill: #777; }
@media print { nav, .noprint { display: none; } }
"""


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request: the server has none
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def bar_chart(label: str, points: list[tuple[str, str]], key: str, value: str) -> str:
    """One bar per point (a name and a decimal string), in order, scaled to the largest;
    each bar carries its point as `data-{key}` and `data-{value}`, as given, and a title, so
    a reader or a test sees the figures behind the picture. Negative values draw as red
    bars of their size."""
    amounts = [Decimal(amount) for _, amount in points]
    top = max((abs(amount) for amount in amounts), default=Decimal(0)) or Decimal(1)
    width = max(16, min(64, 640 // max(len(points), 1)))
    height, under = 80, 14  # bars, then a line of labels: names, or their last two characters
    bars = []
    for n, ((name, text), amount) in enumerate(zip(points, amounts, strict=True)):
        tall = int(height * abs(amount) / top)
        negative = ' class="negative"' if amount < 0 else ""
        bars.append(
            f'<rect{negative} x="{n * width}" y="{height - tall}" width="{width - 3}" '
            f'height="{tall}" data-{key}="{escape(name)}" data-{value}="{escape(text)}">'
            f"<title>{escape(name)}: {escape(text)}</title></rect>"
            f'<text x="{n * width + (width - 3) / 2}" y="{height + under - 2}">'
            f"{escape(name if width >= 48 else name[-2:])}</text>"
        )
    total = len(points) * width
    return (
        f'<svg role="img" aria-label="{escape(label)}" width="{total}" '
        f'height="{height + under}" viewBox="0 0 {total} {height + under}">{"".join(bars)}</svg>'
    )


def html_table(rows: list[dict], columns: list[str]) -> str:
    """Rows as a table with a header per column ("plan_code" reads "Plan code"); numbers
    align right. "(none)" when there are no rows."""
    if not rows:
        return "<p>(none)</p>"
    cells = [["" if row[c] is None else str(row[c]) for c in columns] for row in rows]
    align = [" class=n" if all(is_number(r[i]) for r in cells) else "" for i in range(len(columns))]
    head = "".join(
        f"<th{a}>{escape(c.replace('_', ' ').capitalize())}</th>"
        for c, a in zip(columns, align, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{a}>{escape(v)}</td>" for v, a in zip(r, align, strict=True))
        + "</tr>"
        for r in cells
    )
    return f"<table><tr>{head}</tr>{body}</table>"
