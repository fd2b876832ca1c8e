"""The study report: one self-contained HTML page (and Markdown) from a study folder.

``lusfeat report STUDY --out report.html`` reads only artifacts of a study
written by ``lusfeat sweep`` (see :mod:`lusfeat.pipeline` for the layout): the
cohort it names, ``masks/``, ``tables/``, ``analysis/*/plots/`` and
``study.json``. Sections: cohort summary, example frames, segmentation,
downstream tasks, metric-versus-threshold curves, ROC and calibration plots,
seed spread and run metadata; each says what it cannot show when its inputs
are absent.

Outputs, each written atomically::

    report.html        self-contained: images as base64 PNG data URIs, inline CSS and a
                       small sorting script, a Content-Security-Policy that blocks any
                       request; the report's metadata as JSON in
                       <script id="lusfeat-report-meta">
    report.md          the same sections and tables in Markdown
    report_files/      the Markdown's PNG images and report.json (options, versions,
                       input fingerprints)
"""

from ._build import SECTIONS, build_report

__all__ = ["SECTIONS", "build_report"]
