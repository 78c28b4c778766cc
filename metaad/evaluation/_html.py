"""Small HTML building blocks for the report: escaped cells, tables, number formatting and the page style."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td.text, th.text { text-align: left; }
.scroll { overflow-x: auto; }
.note { color: #666; font-size: 0.9em; }
img { max-width: 100%; height: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
""".strip()


def escape(value: Any) -> str:
    """Escape any value for HTML text or attributes.

    Examples
    --------
    >>> escape("<b>x</b>")
    '&lt;b&gt;x&lt;/b&gt;'
    """
    return html.escape(str(value), quote=True)


def format_value(value: Any) -> str:
    """Format a cell value as escaped text: numbers to 4 significant digits, ``None``/NaN as ``n/a``.

    Examples
    --------
    >>> format_value(3.14159), format_value(12), format_value(None), format_value(float("nan"))
    ('3.142', '12', 'n/a', 'n/a')
    >>> format_value("<i>")
    '&lt;i&gt;'
    """
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return escape(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return "n/a" if math.isnan(number) else f"{number:.4g}"
    if isinstance(value, (dict, list, tuple)):
        return escape(json.dumps(value, default=str, sort_keys=True))
    return escape(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """Render a bordered table; header and cells are escaped, numbers right-aligned, text left-aligned.

    Examples
    --------
    >>> html_table = table(["name", "value"], [["<a>", 0.123456]])
    >>> html_table[html_table.index("<tbody>"):html_table.index("</tbody>")]
    '<tbody><tr><td class="text">&lt;a&gt;</td><td>0.1235</td></tr>'
    """
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for row in rows:
        cells = "".join(
            f"<td>{format_value(cell)}</td>" if _is_number(cell) else f'<td class="text">{format_value(cell)}</td>'
            for cell in row
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


def image(data_uri: str, alt: str) -> str:
    """An inline ``<img>`` tag for a ``data:`` URI.

    Examples
    --------
    >>> image("data:image/png;base64,AAAA", "a <plot>")
    '<img src="data:image/png;base64,AAAA" alt="a &lt;plot&gt;">'
    """
    return f'<img src="{escape(data_uri)}" alt="{escape(alt)}">'


def section(heading: str, body: str) -> str:
    """A ``<section>`` with an escaped ``<h2>`` heading and a body that is already HTML.

    Examples
    --------
    >>> section("A & B", "<p>x</p>")
    '<section><h2>A &amp; B</h2>\\n<p>x</p></section>'
    """
    return f"<section><h2>{escape(heading)}</h2>\n{body}</section>"
