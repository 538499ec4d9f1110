"""``report.html``: one self-contained page (PNG figures embedded as base64, no external files).

At its top: a PARTIAL banner when the run was interrupted, then the command, seed, torch
version, machine and date; then the table (HTML) with its legend, the step-size scan
section, and per game its figures.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from equilib.compare.run import RunResult
from equilib.compare.table import HEADERS, cells, legend

__all__ = ["embedded_png", "write_html"]

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
td:nth-child(-n+4), th { text-align: left; }
tr.first td { border-top: 2px solid #888; }
td.converged { background: #e3f4e3; } td.diverged, td.diverging { background: #fbe3e3; }
td.converging { background: #f1f8e6; } td.stalled, td.bounded { background: #fff6dc; }
.partial { background: #c62828; color: white; padding: 0.6em; font-weight: bold; }
.meta { color: #555; font-size: 13px; }
img { max-width: 100%; margin: 0.3em 0; }
"""


def embedded_png(path) -> str:
    """An ``<img>`` tag holding the PNG at ``path`` as base64 (the page needs no other file)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def _table(results: list[RunResult]) -> str:
    rows = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS) + "</tr>"]
    previous = None
    for r in results:
        values = cells(r)
        first = ' class="first"' if r.game != previous else ""
        previous = r.game
        tds = [f'<td class="{html.escape(r.status)}">' + html.escape(c) + "</td>" if i == 3
               else "<td>" + html.escape(c) + "</td>" for i, c in enumerate(values)]
        rows.append(f"<tr{first}>" + "".join(tds) + "</tr>")
    rows.append("</table>")
    rows.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in legend(results)) + "</ul>")
    return "\n".join(rows)


def write_html(path, results: list[RunResult], figures: dict[str, list[tuple[str, Path]]], meta: dict,
               partial: str | None = None) -> Path:
    """Write the report; ``figures`` maps a section title to [(caption, png path or None if not drawn)]."""
    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8"><title>equilib compare</title>',
             f"<style>{_STYLE}</style></head><body>"]
    if partial:
        parts.append(f'<p class="partial">PARTIAL REPORT: {html.escape(partial)}</p>')
    parts.append("<h1>equilib compare</h1>")
    parts.append('<p class="meta">' + "<br>".join(f"<b>{html.escape(k)}</b>: {html.escape(str(v))}"
                                                  for k, v in meta.items()) + "</p>")
    parts.append("<h2>Table</h2>")
    parts.append(_table(results))
    for title, figs in figures.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for caption, png in figs:
            if png is not None and Path(png).exists():
                parts.append(f"<figure>{embedded_png(png)}<figcaption>{html.escape(caption)}</figcaption></figure>")
            else:
                parts.append(f"<p>{html.escape(caption)}</p>")
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
