"""The document model, number formatting, pipeline names and the HTML/Markdown renderers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lusfeat.report._doc import (
    Cell,
    Details,
    Figure,
    Note,
    Para,
    Section,
    best_flags,
    ci_cell,
    fmt,
    fmt_p,
    natural_key,
    table,
)
from lusfeat.report._render import to_html, to_markdown
from lusfeat.report._study import parse_pipeline

from ._fakes import png


@pytest.mark.parametrize("value, text", [
    (0.81234, "0.812"), (-0.5, "-0.500"), (12.345, "12.35"), (123.45, "123.5"), (1234.5, "1,234"),
    (float("nan"), "n/a"), (None, "n/a"), (3, "3"), (12345, "12,345"), ("abc", "abc"), (float("inf"), "n/a"),
])
def test_fmt(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("p, text", [(0.0004, "<0.001"), (0.0123, "0.012"), (1.0, "1.000"), (None, "n/a"),
                                     (float("nan"), "n/a")])
def test_fmt_p(p, text):
    assert fmt_p(p) == text


def test_ci_cell_and_best_flags():
    c = ci_cell(0.81, 0.78, 0.84, strong=True)
    assert (c.text, c.sub, c.sort, c.strong) == ("0.810", "[0.780, 0.840]", 0.81, True)
    assert ci_cell(0.5, float("nan"), None).sub == ""
    assert best_flags([0.2, 0.9, float("nan"), 0.9], True) == [False, True, False, True]
    assert best_flags([3.0, 1.0, 2.0], False) == [False, True, False]
    assert best_flags([3.0, 1.0], None) == [False, False]
    assert best_flags([3.0, None], True) == [False, False]  # a single finite value is not "best"
    assert best_flags([0.0, 0.0, float("nan")], True) == [False, False, False]  # ties everywhere: no best


@pytest.mark.parametrize("name, parsed", [
    ("threshold-60", ("threshold", 60, None)), ("threshold-100-s2", ("threshold", 100, 2)),
    ("labels-50", ("labels", 50, None)), ("soft-s1", ("soft", None, 1)), ("ignore-40-60", ("ignore-40-60", None, None)),
    ("truth", ("truth", None, None)), ("weighted-60", ("weighted-60", None, None)),
])
def test_parse_pipeline(name, parsed):
    assert parse_pipeline(name) == parsed


def test_natural_key_orders_thresholds():
    names = ["threshold-100", "threshold-60", "threshold-50", "labels-90"]
    assert sorted(names, key=natural_key) == ["labels-90", "threshold-50", "threshold-60", "threshold-100"]


class _Balanced(HTMLParser):
    """Records start tags and text; fails on a stray ``<`` that starts an element in cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=40, deadline=None)
@given(header=st.lists(_text, min_size=1, max_size=4), cells=st.lists(_text, min_size=1, max_size=4),
       note=_text)
def test_any_text_is_escaped(header, cells, note):
    shown = (cells * len(header))[: len(header)]
    rows = [[Cell(c) for c in shown]]
    sec = Section("s", "Title <b>", [Note(note), table(header, rows, caption=note), Para(note)])
    page = to_html("T", "sub", [sec], {"created": "now", "lusfeat_version": "x"})
    p = _Balanced()
    p.feed(page)
    tags = [t for t in p.tags if t not in ("html", "head", "meta", "title", "style", "body", "header", "h1", "p",
                                            "nav", "ol", "li", "a", "main", "section", "h2", "div", "table",
                                            "thead", "tr", "th", "tbody", "td", "span", "footer", "script")]
    assert tags == []  # no element came from the text
    text = "".join(p.text)
    for t in [*header, *shown, note]:
        assert t.strip() in text
    md, _ = to_markdown("T", "sub", [sec], "files")
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    n = len(header)
    for line in lines:  # unescaped pipes separate exactly n cells
        assert len(re.findall(r"(?<!\\)\|", line.replace("\\\\", ""))) == n + 1, line


def test_markdown_images_and_details():
    a, b = png(20, 20), png(30, 20)
    sec = Section("s", "S", [Figure(a, "x.png", "first"), Details("more", [Figure(b, "x.png", "second")]),
                             Figure(a, "x.png", "again")])
    md, files = to_markdown("T", "sub", [sec], "rep_files")
    assert set(files) == {"x.png", "x-2.png"} and files["x.png"] == a and files["x-2.png"] == b
    assert "![first](rep_files/x.png)" in md and "![second](rep_files/x-2.png)" in md
    assert "#### more" in md
    page = to_html("T", "sub", [sec], {})
    assert page.count("data:image/png;base64,") == 3 and "<details><summary>more</summary>" in page


def test_metadata_cannot_close_the_script():
    page = to_html("T", "s", [], {"study": "</script><script>alert(1)</script>"})
    assert page.count("</script>") == 2  # the metadata block and the sorting script


def test_study_order_follows_study_json(tmp_path):
    from lusfeat.report._study import StudyInputs

    st = StudyInputs(tmp_path, {"pipelines": {"threshold-50-s0": {}, "soft-s0": {}, "threshold-50-s1": {},
                                              "soft-s1": {}, "labels-60": {}, "truth": {}}})
    assert st.order(["truth", "zeta", "soft", "threshold-50", "alpha-10", "alpha-9", "soft-s1", "labels-60"]) == [
        "threshold-50", "soft", "soft-s1", "labels-60", "truth", "alpha-9", "alpha-10", "zeta"]


def test_very_wide_figures_scroll_sideways():
    sec = Section("s", "S", [Figure(png(1200, 100), "wide.png"), Figure(png(400, 300), "plain.png")])
    page = to_html("T", "s", [sec], {})
    assert page.count('<figure class="wide">') == 1
    assert page.index('<figure class="wide">') < page.index("<figure><div>")


def test_a_summary_block_renders_as_its_pairs_and_tables():
    """The report consumes lusfeat Summary objects: pairs as an item/value table, then the tables."""
    import pandas as pd

    from lusfeat._summary import Summary
    from lusfeat.report._doc import Cell
    from lusfeat.report._render import _html_block, _md_block

    s = Summary("Cohort x", [("patients", 12), ("probe", "linear")],
                {"counts": pd.DataFrame({"zone": ["L1"], "n": [3]})})
    pairs = table(["item", "value"], [[Cell("patients"), Cell("12")], [Cell("probe"), Cell("linear")]],
                  caption="Cohort x", sortable=False)
    html = _html_block(s)
    assert html.startswith(_html_block(pairs)) and "counts" in html and ">L1<" in html
    md = _md_block(s, "f", {})
    assert md.startswith(_md_block(pairs, "f", {})) and "| L1 |" in md
