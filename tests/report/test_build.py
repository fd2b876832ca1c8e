"""build_report on a complete fake study: structure, embedded images, Markdown, metadata."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lusfeat import InputError
from lusfeat.report import SECTIONS, build_report

from ._fakes import STAGE_SECONDS


class _Collect(HTMLParser):
    """Tags, attributes, table headers and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, flags=re.S)
    assert m is not None, f"section {sid} missing"
    return m.group(1)


def test_sections_in_order(report_html):
    html = report_html.read_text()
    found = re.findall(r'<section id="([a-z]+)">', html)
    assert tuple(found) == SECTIONS


def test_images_embedded_as_valid_pngs(report_html):
    p = _parse(report_html.read_text())
    imgs = [a for t, a in p.tags if t == "img"]
    # 4 examples, 1 segmentation curve, 2 downstream curves (2 models), 2 analysis plots
    assert len(imgs) == 9
    for a in imgs:
        src = a["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.get("alt")


def test_no_external_references(report_html):
    html = report_html.read_text()
    p = _parse(html)
    for tag, attrs in p.tags:
        for key in ("src", "href", "data", "action", "poster"):
            v = attrs.get(key)
            if v is None:
                continue
            assert v.startswith(("data:", "#")), f"<{tag} {key}={v[:60]!r}> refers outside the page"
        assert tag not in ("link", "iframe", "object", "embed")
    assert "http://" not in html.replace("http-equiv", "") and "https://" not in html
    assert "url(" not in html and "@import" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_segmentation_tables(report_html):
    sec = _section(report_html.read_text(), "segmentation")
    assert "Dice against the true masks" in sec and "HD95 (pixels) against the true masks" in sec
    assert "IoU against fused labels &gt;= 60 %" in sec
    assert "<details>" in sec  # label references collapsed
    # pipelines as rows, classes as columns, estimate with its CI
    assert sec.count("<table") == 3 + 3 * 2 + 1  # truth, two label references, ECE
    assert re.search(r'<span>0\.\d{3}</span><small>\[0\.\d{3}, 0\.\d{3}\]</small>', sec)
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", sec).group(1)
    assert re.findall(r">([a-z_ ]+)</th>", header) == ["pipeline", "pleural_line", "a_line", "b_line",
                                                       "consolidation", "effusion", "mean over classes"]
    assert sec.count('class="strong"') >= 3 * 5  # a best value per class and metric


def test_downstream_tables(report_html):
    sec = _section(report_html.read_text(), "downstream")
    assert "Task sf (regression), model linear" in sec
    assert "Task readmission (binary), model xgboost" in sec
    assert "95 % BCa CI" in sec
    assert "Compared with threshold-50" in sec and "p Holm" in sec and "p BH" in sec
    assert "Skipped sf-change: too few events (test)" in sec
    assert "planned but has no results" not in sec  # the skipped note explains the missing task
    # key comparison tables: Holm p in bold exactly when below 0.05, raw and BH p below it
    comp = sec.split("<h3>Comparisons</h3>")[1]
    strong = [float(v) for v in re.findall(r'<td class="strong" data-sort="([0-9.e-]+)"><span>[^<]*</span>'
                                            r'<small>p [^<]*, BH [^<]*</small>', comp)]
    plain = [float(v) for v in re.findall(r'<td data-sort="([0-9.e-]+)"><span>[^<]*</span>'
                                           r'<small>p [^<]*, BH [^<]*</small>', comp)]
    assert strong and plain and len(strong) + len(plain) == 2 * 2 * 5 * 2  # tasks x models x pipelines x metrics
    assert len(strong) == 2 * 2 * 2  # truth, the only pipeline with Holm p < 0.05 in the fake study
    assert max(strong) < 0.05 <= min(plain)
    # pipelines of the study in its order, references after the strategies
    first = re.search(r"<tbody>(.*?)</tbody>", sec, flags=re.S).group(1)
    rows = re.findall(r"<tr><td class=\"text\"><span>([a-z0-9-]+)</span>", first)
    assert rows == ["threshold-50", "threshold-60", "soft", "labels-50", "labels-60", "truth"]


def test_timings_sorted_slowest_first(report_html):
    sec = _section(report_html.read_text(), "run")
    m = re.search(r"Time per stage, slowest first</p>.*?<tbody>(.*?)</tbody>", sec, flags=re.S)
    stages = re.findall(r"<tr><td class=\"text\"><span>([a-z/0-9-]+)</span>", m.group(1))
    assert stages == sorted(STAGE_SECONDS, key=lambda k: -STAGE_SECONDS[k])
    assert "the slowest stage is train/threshold-60 (40.25 s)" in sec
    for item in ("Versions", "Hardware", "Sweep options", "Pipelines"):
        assert f">{item}</p>" in sec


def test_examples_show_findings_and_each_mask_set(report_html):
    sec = _section(report_html.read_text(), "examples")
    caps = re.findall(r"<figcaption>(.*?)</figcaption>", sec)
    assert len(caps) == 4
    assert all("b_line" in c and "consolidation" in c for c in caps)
    patients = {re.search(r"patient (P\d+)", c).group(1) for c in caps}
    assert len(patients) == 4  # one frame per patient


def test_metadata_embedded(report_html, study_dir):
    html = report_html.read_text()
    m = re.search(r'<script type="application/json" id="lusfeat-report-meta">(.*?)</script>', html, re.S)
    meta = json.loads(m.group(1).replace("<\\/", "</"))
    assert meta["producer"] == "lusfeat.report.build_report"
    assert meta["options"] == {"markdown": True, "max_examples": 4}
    assert set(meta["inputs"]) == {"study.json", "tables/segmentation.parquet", "tables/downstream.parquet",
                                   "tables/seeds.parquet"}
    assert meta["study"] == str(study_dir)
    assert meta["sections"]["seeds"]["notes"]  # one seed: the section says so


def test_markdown_and_files(report_html):
    md = report_html.with_suffix(".md").read_text()
    folder = report_html.with_name("report_files")
    assert md.startswith("# lusfeat study report")
    for i, title in enumerate(["Cohort summary", "Example frames", "Segmentation"], 1):
        assert f"## {i}. {title}" in md
    assert "| pipeline | pleural_line | a_line | b_line | consolidation | effusion | mean over classes |" in md
    refs = re.findall(r"!\[[^\]]*\]\((report_files/[^)]+)\)", md)
    assert len(refs) == 9
    for r in refs:
        assert (report_html.parent / r).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((folder / "report.json").read_text())["producer"] == "lusfeat.report.build_report"
    # table rows have as many cells as the header
    for block in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        counts = {len(re.split(r"(?<!\\)\|", line)) for line in block.strip().splitlines()}
        assert len(counts) == 1, block


def test_rebuild_replaces_and_no_markdown(tmp_path, bare_study):
    out = tmp_path / "r.html"
    build_report(bare_study, out, max_examples=1, progress=False)
    old = (tmp_path / "r_files" / "report.json").read_text()
    assert out.read_text().count("<img") == 1
    build_report(bare_study, out, markdown=False, max_examples=0, progress=False)
    html = out.read_text()
    assert "No example frames requested" in html
    assert (tmp_path / "r_files" / "report.json").read_text() == old  # untouched without markdown
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.md", "r_files"]


def test_failure_leaves_previous_report(tmp_path, bare_study, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous")
    import lusfeat.report._build as b

    def boom(*a, **k):
        raise RuntimeError("render failed")

    monkeypatch.setattr(b, "to_html", boom)
    with pytest.raises(RuntimeError, match="render failed"):
        build_report(bare_study, out, markdown=False, max_examples=0, progress=False)
    assert out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


@pytest.mark.parametrize("bad, match", [
    ("report.txt", "ending in .html"),
    ("folder.html", "is a folder"),
])
def test_bad_out(tmp_path, study_dir, bad, match):
    (tmp_path / "folder.html").mkdir()
    with pytest.raises(InputError, match=match):
        build_report(study_dir, tmp_path / bad, progress=False)


def test_bad_max_examples(tmp_path, study_dir):
    with pytest.raises(InputError, match="--max-examples must be a whole number >= 0, got -1"):
        build_report(study_dir, tmp_path / "r.html", max_examples=-1, progress=False)


def test_refuses_to_replace_foreign_files_folder(tmp_path, study_dir):
    (tmp_path / "report_files").mkdir()
    (tmp_path / "report_files" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds files a report did not write"):
        build_report(study_dir, tmp_path / "report.html", progress=False)
    assert (tmp_path / "report_files" / "notes.txt").read_text() == "mine"


def test_not_a_study(tmp_path, tiny_cohort):
    with pytest.raises(InputError, match=r"is not a lusfeat study: study.json is missing"):
        build_report(tmp_path, tmp_path / "r.html", progress=False)
    with pytest.raises(InputError, match=r"it is a cohort folder; run `lusfeat sweep"):
        build_report(tiny_cohort, tmp_path / "r.html", progress=False)
    with pytest.raises(InputError, match="the folder does not exist"):
        build_report(tmp_path / "nope", tmp_path / "r.html", progress=False)
    (tmp_path / "study.json").write_text('{"format": "something-else"}')
    with pytest.raises(InputError, match="has format 'something-else', expected 'lusfeat-study'"):
        build_report(tmp_path, tmp_path / "r.html", progress=False)
    (tmp_path / "study.json").write_text("{broken")
    with pytest.raises(InputError, match="is not valid JSON"):
        build_report(tmp_path, tmp_path / "r.html", progress=False)
    assert not Path(tmp_path / "r.html").exists()
