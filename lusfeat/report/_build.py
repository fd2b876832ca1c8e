"""``build_report``: the study report as one self-contained HTML file and Markdown."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from pathlib import Path
from typing import Any

from .._errors import CohortError, InputError
from .._io import atomic_dir, atomic_file, write_json
from .._progress import progress_bar
from ..data import CLASS_NAMES, open_cohort
from ..data._show import CLASS_COLORS
from ._doc import Section
from ._render import to_html, to_markdown
from ._sec_cohort import cohort_section, examples_section, scan_cohort
from ._sec_results import downstream_section, seeds_section, segmentation_section
from ._sec_study import curves_section, plots_section, run_section
from ._study import open_study

__all__ = ["build_report", "SECTIONS"]

logger = logging.getLogger(__name__)

#: Section anchors, in report order.
SECTIONS: tuple[str, ...] = ("cohort", "examples", "segmentation", "downstream", "curves", "plots",
                             "seeds", "run")
#: File name of the report's metadata inside the Markdown image folder.
META_FILE = "report.json"


def _files_dir(out: Path) -> Path:
    return out.with_name(f"{out.stem}_files")


def _check_files_dir(path: Path) -> None:
    """Refuse to replace a folder that holds anything a report did not write."""
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(f"{path} exists and is not a folder; move it away or choose another --out")
    foreign = [p.name for p in path.iterdir() if not (p.suffix == ".png" or p.name == META_FILE)]
    if foreign:
        raise InputError(f"{path} holds files a report did not write ({foreign[:3]}); move them away or "
                         "choose another --out (the report replaces this folder)")


def _legend() -> list[tuple[str, str]]:
    return [(name, "#" + "".join(f"{int(v):02x}" for v in CLASS_COLORS[i])) for i, name in enumerate(CLASS_NAMES)]


# Over 80 lines only through its docstring (the report's contract and options); the body
# is the short sequence of named steps below.
def build_report(
    study: str | os.PathLike,
    out: str | os.PathLike = "report.html",
    *,
    markdown: bool = True,
    max_examples: int = 4,
    progress: bool = True,
) -> Path:
    """Write the study report: one self-contained HTML page and, optionally, Markdown.

    Sections: cohort summary, example frames, segmentation tables, downstream
    tables and comparisons, metric-versus-threshold curves, the analyses' ROC
    and calibration plots, seed spread and run metadata. A section whose inputs
    are absent (no truth, a skipped task, one seed, an unfinished study) says so
    instead of failing.

    The HTML embeds every image as a base64 PNG data URI and carries its CSS and
    a small table-sorting script inline; its Content-Security-Policy forbids
    loading anything else, so it opens offline and makes no request. The
    Markdown (``<out stem>.md`` beside the HTML) holds the same text and tables
    and references its images as PNG files in ``<out stem>_files/``, which also
    receives ``report.json`` (options, versions, input fingerprints). The same
    metadata is embedded in the HTML as ``<script type="application/json"
    id="lusfeat-report-meta">``. Every file is written atomically; an existing
    report at ``out`` is replaced.

    Parameters
    ----------
    study : path-like
        Study folder written by ``lusfeat sweep`` (holds ``study.json``).
    out : path-like
        HTML file to write (``.html`` or ``.htm``).
    markdown : bool
        Also write the Markdown and its image folder.
    max_examples : int
        Example frames to draw (0: none).
    progress : bool
        Show progress while reading the cohort and building sections.

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    InputError
        When ``study`` is not a study folder, ``out`` is not an ``.html`` path or
        would replace a folder, or ``max_examples`` is negative.

    Examples
    --------
    >>> from lusfeat.report import build_report  # doctest: +SKIP
    >>> build_report("demo/study", "demo/report.html")  # doctest: +SKIP
    PosixPath('demo/report.html')
    """

    from .._version import __version__

    out = Path(out)
    _check_options(out, max_examples)
    files_dir = _files_dir(out)
    if markdown:
        _check_files_dir(files_dir)
    st = open_study(study)
    cohort_path, cohort, why = _open_study_cohort(st)
    scan = scan_cohort(cohort, progress=progress) if cohort is not None else None
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    report_meta: dict[str, Any] = {
        "producer": "lusfeat.report.build_report",
        "lusfeat_version": __version__,
        "created": created,
        "study": str(st.path),
        "cohort": str(cohort_path) if cohort_path is not None else None,
        "options": {"markdown": markdown, "max_examples": max_examples},
        "inputs": st.fingerprints,
        "unavailable_tables": st.missing,
        "assembled_tables": st.assembled,
    }
    sections = _build_sections(st, cohort, why, scan, max_examples, report_meta, progress)
    report_meta["sections"] = {s.id: {"title": s.title, "notes": s.notes} for s in sections}

    title = f"lusfeat study report: {st.path.name}"
    best = st.meta.get("best")
    subtitle = (f"Study {st.path}" + (f"; best strategy {best}" if best else "")
                + (f"; baseline {st.meta['baseline']}" if st.meta.get("baseline") else "")
                + f". Written {created} by lusfeat {__version__}.")
    _write_report(out, files_dir if markdown else None, title, subtitle, sections, report_meta)
    logger.info("report written to %s%s", out, f" and {out.with_suffix('.md')}" if markdown else "")
    return out


def _check_options(out: Path, max_examples: int) -> None:
    """Raise :class:`InputError` when ``out`` is no ``.html`` file path or ``max_examples`` is invalid."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: the report is an HTML file; give a path ending in .html")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give the HTML file to write, e.g. {out / 'report.html'}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise InputError(f"--max-examples must be a whole number >= 0, got {max_examples!r}")


def _open_study_cohort(st: Any) -> tuple[Path | None, Any, str | None]:
    """The study's cohort: ``(path or None, opened cohort or None, why it is unavailable)``.

    A cohort that cannot be opened is logged and reported as unavailable, not raised.
    """
    cohort_path, why = st.cohort_path()
    cohort = None
    if cohort_path is not None:
        try:
            cohort = open_cohort(cohort_path)
        except CohortError as exc:
            why = str(exc)
            logger.warning("report: cohort unavailable: %s", exc)
    return cohort_path, cohort, why


def _build_sections(st: Any, cohort: Any, why: str | None, scan: Any, max_examples: int,
                    report_meta: dict[str, Any], progress: bool) -> list[Section]:
    """Every section of :data:`SECTIONS`, in order (each says what it cannot show)."""
    builders = [
        lambda: cohort_section(cohort, why, scan),
        lambda: examples_section(st.path, cohort, why, scan, max_examples),
        lambda: segmentation_section(st),
        lambda: downstream_section(st),
        lambda: curves_section(st),
        lambda: plots_section(st),
        lambda: seeds_section(st),
        lambda: run_section(st, report_meta),
    ]
    sections: list[Section] = []
    with progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task("report: sections", total=len(builders))
        for build in builders:
            sections.append(build())
            bar.advance(task)
    return sections


def _write_report(out: Path, files_dir: Path | None, title: str, subtitle: str, sections: list[Section],
                  report_meta: dict[str, Any]) -> None:
    """Write the HTML page and, when ``files_dir`` is given, the Markdown and its files, each atomically."""
    legend = _legend()
    if files_dir is not None:
        text, images = to_markdown(title, subtitle, sections, files_dir.name, legend)
        with atomic_dir(files_dir, overwrite=True) as tmp:
            for name, data in images.items():
                (tmp / name).write_bytes(data)
            write_json(tmp / META_FILE, report_meta)
        with atomic_file(out.with_suffix(".md")) as tmp:
            tmp.write_text(text, encoding="utf-8")
    with atomic_file(out) as tmp:
        tmp.write_text(to_html(title, subtitle, sections, report_meta, legend), encoding="utf-8")
