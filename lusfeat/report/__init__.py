"""The study report: one self-contained HTML page (and Markdown) from a study folder.

``lusfeat report STUDY --out report.html`` reads only artifacts of a study
written by ``lusfeat sweep`` (see :mod:`lusfeat.pipeline` for the layout): the
cohort it names, ``masks/``, ``tables/``, ``analysis/*/plots/`` and
``study.json``. Sections: cohort summary, example frames, segmentation,
downstream tasks, metric-versus-threshold curves, ROC and calibration plots,
seed spread and run metadata; each says what it cannot show when its inputs
are absent.
"""

from ._build import SECTIONS, build_report
from ._study import StudyInputs, open_study

__all__ = ["SECTIONS", "StudyInputs", "build_report", "open_study"]
