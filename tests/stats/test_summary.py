"""One results model: Summary renders text, HTML and DataFrames; stage summaries build on it."""

from __future__ import annotations

import pandas as pd

from lusfeat._summary import Summary
from lusfeat.stats import ModelSummary
from lusfeat.stats._result import AnalysisResult, AnalysisSummary, empty_results


def test_summary_renders_pairs_tables_and_notes():
    t = pd.DataFrame({"estimate": [0.5, 0.25]}, index=["a", "b"])
    s = Summary("title", [("rows", 10), ("method", "ols")], {"metrics": t}, ["warning: x"])
    text = s.as_text()
    assert text.splitlines()[:3] == ["title", "rows: 10", "method: ols"]
    assert "metrics:" in text and "0.25" in text and text.endswith("Note: warning: x")
    html = s.as_html()
    assert "<dt>rows</dt><dd>10</dd>" in html and "<table" in html and "warning: x" in html
    assert s.as_frame().to_dict("list") == {"label": ["rows", "method"], "value": [10, "ols"]}
    assert s.as_frame("metrics").equals(t) and str(s) == text


def test_model_summary_is_a_summary_with_one_coefficient_table():
    t = pd.DataFrame({"coef": [1.0]}, index=["const"])
    m = ModelSummary("fit", [("Rows", 3)], t, ["n"])
    assert isinstance(m, Summary) and m.table is m.tables["coefficients"]
    assert m.as_frame().equals(t) and "coef" in m.as_html()


def test_analysis_summary_text_is_the_summary_file():
    res = AnalysisResult(results=empty_results(), predictions=pd.DataFrame(),
                         skipped={"sf": "too few"}, excluded={"sf": {"reason": 2}},
                         meta={"options": {"folds": 3, "repeats": 1, "bootstrap": 10, "seed": 0},
                               "pipelines": {"truth": {}}, "reference": "truth"})
    s = res.summary()
    assert isinstance(s, AnalysisSummary)
    assert str(s).splitlines() == ["lusfeat analysis", "================", "pipelines: truth (reference: truth)",
                                   "CV: 3-fold x 1 repeats, patient-grouped; bootstrap: 10 patient resamples; "
                                   "seed 0", "", "[sf] excluded 2: reason", "[sf] skipped: too few"]
    assert set(s.tables) == {"metrics", "confirmatory", "exploratory"}
