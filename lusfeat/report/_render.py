"""Render report sections to one self-contained HTML page and to Markdown.

The HTML embeds every image as a ``data:image/png;base64`` URI, carries its CSS
and a small sorting script inline and declares a Content-Security-Policy that
forbids loading anything from elsewhere, so the page works offline and cannot
make a request. The Markdown holds the same text and tables; its images are
PNG files in a folder beside it.
"""

from __future__ import annotations

import base64
import html
import json
import struct
from typing import Any

from .._summary import Summary
from ._doc import Block, Cell, Details, Figure, Grid, Heading, Note, Para, Section, summary_grids

__all__ = ["to_html", "to_markdown", "CSP"]

#: Width/height ratio above which a figure is shown at a fixed height with a sideways scroll.
WIDE_ASPECT = 3.5
#: Content-Security-Policy of the page: inline style/script and data: images only.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")

_CSS = """
:root { --fg:#1d2433; --muted:#5b6475; --line:#d8dde6; --band:#f4f6f9; --accent:#1f5fa8; --warn:#8a5a00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); margin: 0; background: #fff; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; border-bottom: 1px solid var(--line); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 30px 0 8px; padding-top: 6px; border-top: 2px solid var(--accent); }
h3 { font-size: 16px; margin: 20px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 4px; color: var(--muted); }
p { margin: 6px 0; }
.sub { color: var(--muted); margin: 0 0 10px; }
nav ol { columns: 2; margin: 8px 0 14px; padding-left: 22px; }
nav a, a { color: var(--accent); text-decoration: none; }
.note { border-left: 4px solid #e0a800; background: #fff8e1; color: var(--warn); padding: 6px 10px;
        margin: 8px 0; }
.tablewrap { overflow-x: auto; margin: 2px 0 14px; }
table { border-collapse: collapse; font-size: 12.5px; }
p.caption { color: var(--muted); margin: 12px 0 2px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td.text, th.text { text-align: left; }
thead th { background: var(--band); position: sticky; top: 0; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 9px; }
table.sortable thead th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 9px; }
tbody tr:nth-child(even) { background: #fafbfc; }
td small { display: block; color: var(--muted); font-size: 11px; white-space: nowrap; }
td.strong > span { font-weight: 700; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figure.wide > div { overflow-x: auto; }
figure.wide img { max-width: none; height: 320px; width: auto; }
figcaption { color: var(--muted); font-size: 12.5px; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.legend span { display: inline-block; margin-right: 12px; font-size: 12.5px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
footer { max-width: 1180px; margin: 30px auto 20px; padding: 0 20px; color: var(--muted); font-size: 12px; }
"""

# Sort a table by the clicked column: numeric data-sort keys first, then text.
_JS = """
(function () {
  function key(cell) {
    var s = cell.getAttribute("data-sort");
    if (s !== null && s !== "") { var v = parseFloat(s); if (!isNaN(v)) { return v; } }
    return cell.textContent.trim();
  }
  function compare(x, y) {
    var nx = typeof x === "number", ny = typeof y === "number";
    if (nx && ny) { return x - y; }
    if (nx) { return -1; }
    if (ny) { return 1; }
    return String(x).localeCompare(String(y));
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        if (!body) { return; }
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var r = compare(key(a.cells[col]), key(b.cells[col]));
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_cell(cell: Cell, tag: str = "td") -> str:
    cls = []
    if cell.sort is None and tag == "td":
        cls.append("text")
    if cell.strong:
        cls.append("strong")
    attrs = f' class="{" ".join(cls)}"' if cls else ""
    if cell.sort is not None:
        attrs += f' data-sort="{cell.sort!r}"'
    sub = f"<small>{_e(cell.sub)}</small>" if cell.sub else ""
    return f"<{tag}{attrs}><span>{_e(cell.text)}</span>{sub}</{tag}>"


def _numeric_columns(t: Grid) -> list[bool]:
    """A column (but the first) is numeric, hence right-aligned, when any of its cells has a sort key."""
    return [i > 0 and any(len(r) > i and r[i].sort is not None for r in t.rows) for i in range(len(t.header))]


def _html_table(t: Grid) -> str:
    cls = ' class="sortable"' if t.sortable else ""
    cap = f'<p class="caption">{_e(t.caption)}</p>' if t.caption else ""
    numeric = _numeric_columns(t)
    head = "".join(("<th>" if num else '<th class="text">') + f"{_e(h)}</th>"
                   for h, num in zip(t.header, numeric, strict=True))
    body = "\n".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in t.rows)
    return (f'{cap}<div class="tablewrap"><table{cls}><thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; (0, 0) when it is not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0
    w, h = struct.unpack(">II", png[16:24])
    return int(w), int(h)


def _html_block(b: Block) -> str:
    if isinstance(b, Para):
        return f"<p>{_e(b.text)}</p>"
    if isinstance(b, Note):
        return f'<p class="note">{_e(b.text)}</p>'
    if isinstance(b, Heading):
        lvl = min(max(b.level, 3), 4)
        return f"<h{lvl}>{_e(b.text)}</h{lvl}>"
    if isinstance(b, Summary):
        return "\n".join([*(_html_table(t) for t in summary_grids(b)), *(_html_block(Note(n)) for n in b.notes)])
    if isinstance(b, Figure):
        data = base64.b64encode(b.png).decode("ascii")
        cap = f"<figcaption>{_e(b.caption)}</figcaption>" if b.caption else ""
        w, h = _png_size(b.png)
        # Very wide figures (a row of many panels) keep a readable height and scroll sideways.
        wide = ' class="wide"' if h and w / h > WIDE_ASPECT and w > 1100 else ""
        return (f'<figure{wide}><div><img src="data:image/png;base64,{data}" '
                f'alt="{_e(b.alt or b.caption or b.name)}"></div>{cap}</figure>')
    if isinstance(b, Details):
        inner = "\n".join(_html_block(x) for x in b.blocks)
        return f"<details{' open' if b.open else ''}><summary>{_e(b.summary)}</summary>\n{inner}\n</details>"
    raise TypeError(f"unknown report block {type(b).__name__}")


def _legend_html(legend: list[tuple[str, str]]) -> str:
    items = "".join(f'<span><i style="background:{_e(color)}"></i>{_e(name)}</span>' for name, color in legend)
    return f'<p class="legend">{items}</p>'


def to_html(title: str, subtitle: str, sections: list[Section], meta: dict[str, Any],
            legend: list[tuple[str, str]] | None = None) -> str:
    """The whole report as one self-contained HTML page.

    Parameters
    ----------
    title, subtitle : str
    sections : list of Section
    meta : dict
        Embedded as JSON in ``<script type="application/json" id="lusfeat-report-meta">``.
    legend : list of (name, CSS colour), optional
        Class colour legend shown under the title.

    Returns
    -------
    str
    """
    toc = "".join(f'<li><a href="#{_e(s.id)}">{_e(s.title)}</a></li>' for s in sections)
    parts = []
    for i, s in enumerate(sections, 1):
        body = "\n".join(_html_block(b) for b in s.blocks)
        parts.append(f'<section id="{_e(s.id)}">\n<h2>{i}. {_e(s.title)}</h2>\n{body}\n</section>')
    meta_json = json.dumps(meta, indent=1, sort_keys=True, default=str).replace("</", "<\\/")
    version = _e(meta.get("lusfeat_version", ""))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="lusfeat {version}">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<header><h1>{_e(title)}</h1><p class=\"sub\">{_e(subtitle)}</p>",
        _legend_html(legend) if legend else "",
        f"<nav><ol>{toc}</ol></nav></header>",
        "<main>",
        "\n".join(parts),
        "</main>",
        f"<footer>Written by lusfeat {version} on {_e(meta.get('created', ''))}; "
        "all images are embedded in this file.</footer>",
        f'<script type="application/json" id="lusfeat-report-meta">{meta_json}</script>',
        f"<script>{_JS}</script>",
        "</body></html>",
        "",
    ])


def _md_escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_cell(c: Cell) -> str:
    text = f"**{c.text}**" if c.strong and c.text else c.text
    return _md_escape(f"{text} {c.sub}" if c.sub else text)


def _md_table(t: Grid) -> str:
    lines = [f"*{_md_escape(t.caption)}*", ""] if t.caption else []
    lines.append("| " + " | ".join(_md_escape(h) for h in t.header) + " |")
    lines.append("|" + "|".join("--:" if num else ":--" for num in _numeric_columns(t)) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _md_block(b: Block, folder: str, files: dict[str, bytes]) -> str:
    if isinstance(b, Para):
        return b.text
    if isinstance(b, Note):
        return f"> **Note:** {b.text}"
    if isinstance(b, Heading):
        return f"{'#' * min(max(b.level, 3), 4)} {b.text}"
    if isinstance(b, Summary):
        return "\n\n".join([*(_md_table(t) for t in summary_grids(b)),
                             *(_md_block(Note(n), folder, files) for n in b.notes)])
    if isinstance(b, Figure):
        name = b.name
        stem, dot, ext = name.rpartition(".")
        k = 2
        while name in files and files[name] != b.png:
            name = f"{stem}-{k}{dot}{ext}"
            k += 1
        files[name] = b.png
        cap = f"\n\n*{b.caption}*" if b.caption else ""
        return f"![{b.alt or b.caption or b.name}]({folder}/{name}){cap}"
    if isinstance(b, Details):
        return "\n\n".join([f"#### {b.summary}", *(_md_block(x, folder, files) for x in b.blocks)])
    raise TypeError(f"unknown report block {type(b).__name__}")


def to_markdown(title: str, subtitle: str, sections: list[Section], folder: str,
                legend: list[tuple[str, str]] | None = None) -> tuple[str, dict[str, bytes]]:
    """The report as Markdown and the PNG files it references.

    Parameters
    ----------
    title, subtitle : str
    sections : list of Section
    folder : str
        Folder name (relative to the Markdown file) the images are written to.
    legend : list of (name, CSS colour), optional

    Returns
    -------
    text : str
    files : dict of str -> bytes
        PNG file name (inside ``folder``) -> content.
    """
    files: dict[str, bytes] = {}
    out = [f"# {title}", "", subtitle, ""]
    if legend:
        out += ["Class colours: " + ", ".join(f"{n} ({c})" for n, c in legend), ""]
    out += [f"{i}. [{s.title}](#{s.id})" for i, s in enumerate(sections, 1)] + [""]
    for i, s in enumerate(sections, 1):
        out += [f'<a id="{s.id}"></a>', "", f"## {i}. {s.title}", ""]
        for b in s.blocks:
            out += [_md_block(b, folder, files), ""]
    return "\n".join(out).rstrip() + "\n", files
