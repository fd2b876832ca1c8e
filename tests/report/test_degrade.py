"""Sections degrade gracefully: absent cohort, tables, truth, seeds or plots are reported, not fatal."""

from __future__ import annotations

import html as html_lib
import json
import re

import numpy as np
import pandas as pd
import pytest

from lusfeat._io import write_json
from lusfeat.data import CLASS_NAMES, CLINICAL_COLUMNS, CohortWriter, MaskWriter
from lusfeat.report import SECTIONS, build_report

from ._fakes import downstream_table, make_study, png, segmentation_table


def _notes(html: str, sid: str) -> list[str]:
    sec = re.search(rf'<section id="{sid}">(.*?)</section>', html, flags=re.S).group(1)
    return [html_lib.unescape(n) for n in re.findall(r'<p class="note">(.*?)</p>', sec)]


def _no_truth_cohort(path, n_patients=3, size=32):
    """A real-like cohort (no truth): per patient 2 exams x 2 zones x 1 frame; confidence blobs."""
    rng = np.random.default_rng(1)
    rows, clin = [], []
    for p in range(n_patients):
        for e in range(2):
            exam = f"P{p}-E{e}"
            clin.append({"patient_id": f"P{p}", "exam_id": exam, "day": e, "spo2": 94.0, "fio2": 0.4,
                         "sf_ratio": 235.0, "o2_device": "nasal_cannula", "age": 60 + p, "sex": "F",
                         "etiology": "other", "readmit_30d": float(p % 2), "discharge_exam_id": f"P{p}-E1"})
            for z in ("R1", "L1"):
                rows.append({"frame_id": f"{exam}-{z}-F0", "patient_id": f"P{p}", "exam_id": exam, "zone": z,
                             "clip_id": f"{exam}-{z}", "frame_index": 0, "array_index": len(rows),
                             "probe": "linear", "pixel_spacing_mm": float("nan")})
    n = len(rows)
    images = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    conf = np.zeros((n, 2, len(CLASS_NAMES), size, size), np.uint8)
    conf[:, :, 2, 5:20, 8:12] = 80  # B-line in every frame
    conf[::2, :, 3, 20:28, 10:20] = 60  # consolidation in every other frame
    with CohortWriter(path, n, size, size, 2) as w:
        w.write(0, images, conf)
        w.finish({"source": {"kind": "ingested"}}, pd.DataFrame(rows), pd.DataFrame(clin)[list(CLINICAL_COLUMNS)])
    return path


def test_bare_study_every_section_says_what_is_missing(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    write_json(study / "study.json", {"format": "lusfeat-study", "format_version": 1,
                                      "cohort": str(tmp_path / "gone"), "status": "running"})
    out = build_report(study, tmp_path / "report.html", progress=False)
    html = out.read_text()
    assert tuple(re.findall(r'<section id="([a-z]+)">', html)) == SECTIONS
    for sid in SECTIONS:
        if sid != "run":
            assert _notes(html, sid), f"section {sid} has no note"
    assert "Cohort not available: the cohort" in html and "was not found" in html
    assert "No segmentation results:" in html and "segmentation.parquet is missing" in html
    assert "No downstream results:" in html
    assert "No analysis plots found" in html
    assert "status is &#x27;running&#x27;" in html
    assert "No stage timings" in html
    assert "<img" not in html
    assert out.with_suffix(".md").read_text().count("> **Note:**") >= len(SECTIONS) - 1


def test_real_cohort_without_truth_and_three_seeds(tmp_path, monkeypatch):
    cohort = _no_truth_cohort(tmp_path / "cohort")
    study = make_study(tmp_path / "study", cohort, seeds=3, truth=False)
    import lusfeat.report._sec_cohort as sc

    monkeypatch.setattr(sc, "MAX_MASK_PANELS", 1)
    html = build_report(study, tmp_path / "report.html", max_examples=2, progress=False).read_text()
    assert any("No true masks in this cohort" in n for n in _notes(html, "segmentation"))
    assert any("no Dice against true masks" in n for n in _notes(html, "curves"))
    assert html.count('alt="Key downstream metrics') == 2  # downstream curves are still drawn
    ex = re.search(r'<section id="examples">(.*?)</section>', html, flags=re.S).group(1)
    intro = ex.split("</p>")[0]
    assert "fused confidence &gt;= 50 %" in intro and "the true masks," not in intro
    assert ex.count("<img") == 2
    assert _notes(html, "examples") == ["1 mask set(s) of further seeds not drawn"]
    assert '<span>true masks</span></td><td class="text"><span>no</span>' in html
    seeds = re.search(r'<section id="seeds">(.*?)</section>', html, flags=re.S).group(1)
    assert not _notes(html, "seeds")
    assert "Segmentation: Dice and HD95 against the true masks" in seeds
    assert "Downstream: key metrics" in seeds
    assert re.search(r'<td data-sort="3.0"><span>3</span>', seeds)  # the seed count
    # the probes/spacing rows cope with unknown spacing
    assert "unknown" in re.search(r'<section id="cohort">(.*?)</section>', html, flags=re.S).group(1)


def test_unfinished_study_uses_stage_markers(tmp_path, tiny_cohort):
    study = make_study(tmp_path / "study", tiny_cohort, tables=(), masks=False, plots=False)
    meta = json.loads((study / "study.json").read_text())
    del meta["stages"]
    meta["status"] = "running"
    write_json(study / "study.json", meta)
    (study / ".stages").mkdir()
    write_json(study / ".stages" / "train__soft.json", {"stage": "train/soft", "key": "k", "seconds": 3.5,
                                                         "kind": "train", "pipeline": "soft"})
    write_json(study / ".stages" / "segment__soft.json", {"stage": "segment/soft", "key": "k", "seconds": 9.0})
    # per-pipeline outputs of finished stages stand in for the missing study tables
    rng = np.random.default_rng(0)
    seg = segmentation_table(1, True, rng)
    for name in ("threshold-50", "soft"):
        (study / "evaluation" / name).mkdir(parents=True)
        seg[seg["pipeline"] == name].drop(columns=["pipeline", "strategy", "seed"]).to_parquet(
            study / "evaluation" / name / "summary.parquet")
    down = downstream_table(1, True, rng).drop(columns="analysis")
    down.to_parquet(study / "analysis" / "vs-threshold-50" / "results.parquet")
    html = build_report(study, tmp_path / "r.html", max_examples=0, progress=False).read_text()
    seg_notes = _notes(html, "segmentation")
    assert seg_notes[0].endswith("segmentation.parquet is missing; assembled from 2 file(s) "
                                 "evaluation/*/summary.parquet (the study may be unfinished)")
    assert "Dice against the true masks" in html
    assert any("assembled from 1 file(s) analysis/*/results.parquet" in n for n in _notes(html, "downstream"))
    assert "Compared with threshold-50 (vs-threshold-50)" in html
    run = re.search(r'<section id="run">(.*?)</section>', html, flags=re.S).group(1)
    assert "the slowest stage is segment/soft (9.000 s)" in run
    assert run.index("<span>segment/soft</span>") < run.index("<span>train/soft</span>")
    assert "No example frames requested" in html


def test_incomplete_table_and_bad_inputs_are_noted(tmp_path, tiny_cohort):
    study = make_study(tmp_path / "study", tiny_cohort, masks=False)
    seg = pd.read_parquet(study / "tables" / "segmentation.parquet").drop(columns=["ci_low"])
    seg.to_parquet(study / "tables" / "segmentation.parquet")
    (study / "analysis" / "vs-threshold-50" / "plots" / "broken.png").write_bytes(b"not a png")
    (study / "analysis" / "vs-other" / "plots").mkdir(parents=True)
    (study / "analysis" / "vs-other" / "plots" / "sf__linear__pred_vs_obs.png").write_bytes(
        (study / "analysis" / "vs-threshold-50" / "plots" / "sf__linear__pred_vs_obs.png").read_bytes())
    with MaskWriter(study / "masks" / "threshold-50", 3, 16, 16) as w:  # wrong shape for the cohort
        w.write(0, np.zeros((3, 5, 16, 16), bool))
        w.finish({})
    (study / "masks" / "threshold-60").mkdir(parents=True)  # not a mask set
    html = build_report(study, tmp_path / "r.html", max_examples=1, progress=False).read_text()
    assert any("lacks columns ['ci_low']" in n for n in _notes(html, "segmentation"))
    plots = re.search(r'<section id="plots">(.*?)</section>', html, flags=re.S).group(1)
    assert "broken.png is not a PNG file; skipped" in plots
    assert plots.count("<img") == 2  # the duplicate plot of vs-other is shown once
    ex_notes = _notes(html, "examples")
    assert any("threshold-50 skipped: shape (3, 5, 16, 16)" in n for n in ex_notes)
    assert any("threshold-60 skipped" in n and "masks.json is missing" in n for n in ex_notes)


@pytest.mark.parametrize("skipped, expected", [
    ({}, ["Task sf-change was planned but has no results."]),
    ({"readmission": "no patient with a known outcome"},
     ["Skipped readmission: no patient with a known outcome", "Task sf-change was planned but has no results."]),
    ({"sf-change": "task 'sf-change': too few events"}, ["Skipped: task 'sf-change': too few events"]),
])
def test_skipped_tasks_listed(tmp_path, tiny_cohort, skipped, expected):
    study = make_study(tmp_path / "study", tiny_cohort, tables=("downstream",), masks=False, plots=False,
                       skipped=skipped)
    html = build_report(study, tmp_path / "r.html", max_examples=0, markdown=False, progress=False).read_text()
    assert _notes(html, "downstream") == expected


def test_png_helper_is_a_png():
    assert png()[:8] == b"\x89PNG\r\n\x1a\n"
