"""Fixtures of the report tests: a fake study over the tiny cohort and its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._fakes import make_study


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory, tiny_cohort) -> Path:
    """A complete fake study over the tiny simulated cohort (one seed)."""
    return make_study(tmp_path_factory.mktemp("study") / "study", tiny_cohort)


@pytest.fixture(scope="session")
def bare_study(tmp_path_factory, tiny_cohort) -> Path:
    """A study of the tiny cohort with study.json only (no tables, masks or plots): quick to report."""
    return make_study(tmp_path_factory.mktemp("bare") / "study", tiny_cohort, tables=(), masks=False, plots=False)


@pytest.fixture(scope="session")
def report_html(tmp_path_factory, study_dir) -> Path:
    """The report of :func:`study_dir`, built once."""
    from lusfeat.report import build_report

    return build_report(study_dir, tmp_path_factory.mktemp("report") / "report.html", progress=False)
