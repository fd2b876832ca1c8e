"""Report sections about the data: cohort summary and example frames with masks."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import LusfeatError
from .._progress import progress_bar
from .._summary import Summary
from ..data import CLASS_NAMES, Cohort, open_masks
from ..data._show import overlay
from ._doc import Cell, Figure, Note, Para, Section, fmt, natural_key, slug, table
from ._figures import frame_grid

__all__ = ["CohortScan", "scan_cohort", "cohort_section", "examples_section"]

logger = logging.getLogger(__name__)

#: Most frames read to estimate prevalence and choose examples.
SCAN_LIMIT = 2048
#: Frames read at a time.
SCAN_CHUNK = 64
#: Most mask sets drawn beside each example frame.
MAX_MASK_PANELS = 15
#: Classes that make a frame a good example (B-lines, consolidation, effusion).
FINDINGS = ("b_line", "consolidation", "effusion")
#: Fused confidence (percent) at which a pixel counts as labelled in the summary.
FUSED_LEVEL = 50.0


@dataclass
class CohortScan:
    """Per-frame class presence of the frames read (all, or a sample of whole blocks).

    Attributes
    ----------
    index : (n,) int
        Array indices of the frames read.
    truth_pixels : (n, C) int or None
        True-mask pixels per class.
    labelled : (n, C) bool
        Any annotator gave the class a non-zero confidence.
    fused_pixels : (n, C) int
        Pixels whose mean confidence over annotators is at least 50 %.
    sampled : bool
        True when only part of the cohort was read.
    """

    index: np.ndarray
    truth_pixels: np.ndarray | None
    labelled: np.ndarray
    fused_pixels: np.ndarray
    sampled: bool


def _blocks(n: int, limit: int, chunk: int) -> list[tuple[int, int]]:
    if n <= limit:
        return [(s, min(n, s + chunk)) for s in range(0, n, chunk)]
    k = max(1, limit // chunk)
    starts = np.unique((np.linspace(0, n - chunk, k) // chunk).astype(int) * chunk)
    return [(int(s), int(min(n, s + chunk))) for s in starts]


def scan_cohort(cohort: Cohort, *, limit: int = SCAN_LIMIT, chunk: int = SCAN_CHUNK,
                progress: bool = False) -> CohortScan:
    """Read (up to ``limit``) frames' truth and confidence and record class presence.

    Parameters
    ----------
    cohort : Cohort
    limit : int
        Most frames read; larger cohorts are sampled in evenly spaced blocks.
    chunk : int
        Frames per read.
    progress : bool
        Show a progress bar.

    Returns
    -------
    CohortScan
    """

    blocks = _blocks(cohort.n_frames, limit, chunk)
    idx, tp, lab, fp = [], [], [], []
    with progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task("report: reading cohort", total=sum(b - a for a, b in blocks))
        for a, b in blocks:
            conf = np.asarray(cohort.confidence[a:b])
            idx.append(np.arange(a, b))
            lab.append((conf > 0).any(axis=(1, 3, 4)))
            # mean over annotators >= level, as an integer sum (no float copy of the block)
            fp.append((conf.sum(axis=1, dtype=np.uint16) >= FUSED_LEVEL * conf.shape[1]).sum(axis=(2, 3)))
            if cohort.truth is not None:
                tp.append(np.asarray(cohort.truth[a:b], bool).sum(axis=(2, 3)))
            bar.advance(task, b - a)
    index = np.concatenate(idx)
    return CohortScan(index=index, truth_pixels=np.concatenate(tp) if tp else None,
                      labelled=np.concatenate(lab), fused_pixels=np.concatenate(fp),
                      sampled=index.size < cohort.n_frames)


def _kv(rows: list[tuple[str, Any]], caption: str = "") -> Summary:
    return Summary(title=caption, info=list(rows))


def _prevalence(scan: CohortScan, n_frames: int) -> Summary:
    header = ["class"]
    if scan.truth_pixels is not None:
        header.append("in truth")
    header += ["labelled by any annotator", f"fused confidence >= {FUSED_LEVEL:.0f} %"]
    rows = []
    for c, name in enumerate(CLASS_NAMES):
        vals = []
        if scan.truth_pixels is not None:
            vals.append((scan.truth_pixels[:, c] > 0).mean())
        vals += [scan.labelled[:, c].mean(), (scan.fused_pixels[:, c] > 0).mean()]
        rows.append([Cell(name)] + [Cell(f"{100 * v:.1f} %", sort=float(v)) for v in vals])
    where = (f"a sample of {scan.index.size} of {n_frames} frames" if scan.sampled
             else f"all {n_frames} frames")
    return table(header, rows, caption=f"Class prevalence: share of frames showing the class ({where})")


def _clinical(clinical: pd.DataFrame) -> list[Summary]:
    num = [c for c in ("spo2", "fio2", "sf_ratio", "day", "age") if c in clinical.columns]
    rows = []
    for c in num:
        v = pd.to_numeric(clinical[c], errors="coerce").dropna()
        rows.append([Cell(c), int(v.size), v.mean() if v.size else np.nan, v.min() if v.size else np.nan,
                     v.median() if v.size else np.nan, v.max() if v.size else np.nan])
    tables = [table(["variable", "n", "mean", "min", "median", "max"], rows,
                    caption=f"Clinical ranges ({len(clinical)} exams)")]
    cat_rows = []
    for c in ("o2_device", "sex", "etiology"):
        if c in clinical.columns:
            counts = clinical[c].astype("object").fillna("missing").astype(str).value_counts()
            cat_rows.append([Cell(c), Cell(", ".join(f"{k}: {v}" for k, v in counts.items()))])
    if "readmit_30d" in clinical.columns:
        per_patient = clinical.drop_duplicates("patient_id") if "patient_id" in clinical.columns else clinical
        r = pd.to_numeric(per_patient["readmit_30d"], errors="coerce")
        known = r.dropna()
        cat_rows.append([Cell("readmit_30d"), Cell(
            f"{int(known.sum())} of {known.size} patients with a known outcome "
            f"({100 * known.mean():.0f} %)" if known.size else "no known outcome")])
    if cat_rows:
        tables.append(table(["variable", "counts"], cat_rows, caption="Clinical categories", sortable=False))
    return tables


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, d if isinstance(d, (int, float)) and not isinstance(d, bool) else str(d))]


def cohort_section(cohort: Cohort | None, why: str, scan: CohortScan | None) -> Section:
    """Section 1: counts, class prevalence, clinical ranges, simulation truth."""
    sec = Section("cohort", "Cohort summary")
    if cohort is None:
        sec.blocks.append(Note(f"Cohort not available: {why}. The cohort summary and example frames "
                               "need the cohort folder the study was run on."))
        return sec
    sec.blocks.append(cohort.summary())
    if scan is not None:
        sec.blocks.append(_prevalence(scan, cohort.n_frames))
    sec.blocks += _clinical(cohort.clinical)
    sim = cohort.meta.get("simulation")
    if isinstance(sim, dict):
        sev = sim.get("exam_severity")
        rows: list[tuple[str, Any]] = []
        if isinstance(sev, dict) and sev:
            v = np.asarray([float(x) for x in sev.values()])
            rows.append(("latent exam severity", f"{fmt(v.min())} to {fmt(v.max())} (mean {fmt(v.mean())})"))
        rows += _flatten(sim.get("true_coefficients", {}))
        if rows:
            sec.blocks.append(_kv(rows, caption="Simulation truth: latent severity and the true coefficients of "
                                                "the clinical model (known only for simulated cohorts)"))
    return sec


def _choose_frames(scan: CohortScan, cohort: Cohort, k: int) -> list[int]:
    counts = scan.truth_pixels if scan.truth_pixels is not None else scan.fused_pixels
    cols = [CLASS_NAMES.index(c) for c in FINDINGS]
    present = counts[:, cols] > 0
    both = present[:, 0] & present[:, 1]
    score = np.lexsort((-counts[:, cols].sum(1), -present.sum(1), -both.astype(int)))
    patients = cohort.frames["patient_id"].astype(str).to_numpy()
    chosen: list[int] = []
    seen: set[str] = set()
    for pass_ in (0, 1):  # first one frame per patient, then fill up
        for j in score:
            f = int(scan.index[j])
            if len(chosen) == k:
                break
            if f in chosen or (pass_ == 0 and patients[f] in seen):
                continue
            chosen.append(f)
            seen.add(patients[f])
    return chosen


def _mask_sets(study: Path, cohort: Cohort) -> tuple[list[tuple[str, Any]], list[str]]:
    root = study / "masks"
    sets, notes = [], []
    if not root.is_dir():
        return sets, [f"no mask sets: {root} is missing"]
    expect = (cohort.n_frames, len(CLASS_NAMES), *cohort.shape)
    for d in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: natural_key(p.name)):
        try:
            m = open_masks(d)
        except LusfeatError as exc:
            notes.append(f"mask set {d.name} skipped: {exc}")
            continue
        if tuple(m.masks.shape) != expect:
            notes.append(f"mask set {d.name} skipped: shape {tuple(m.masks.shape)} does not match the "
                         f"cohort's {expect}")
            continue
        sets.append((d.name, m))
    if len(sets) > MAX_MASK_PANELS:  # several seeds: draw the first seed's masks only
        first = [(n, m) for n, m in sets if not re.search(r"-s\d+$", n) or n.endswith("-s0")]
        if len(first) < len(sets):
            notes.append(f"{len(sets) - len(first)} mask set(s) of further seeds not drawn")
            sets = first
    if len(sets) > MAX_MASK_PANELS:
        notes.append(f"{len(sets) - MAX_MASK_PANELS} more mask set(s) not drawn: "
                     + ", ".join(n for n, _ in sets[MAX_MASK_PANELS:]))
        sets = sets[:MAX_MASK_PANELS]
    return sets, notes


def examples_section(study: Path, cohort: Cohort | None, why: str, scan: CohortScan | None,
                     max_examples: int) -> Section:
    """Section 2: example frames with findings, confidence, truth and each pipeline's masks."""
    sec = Section("examples", "Example frames")
    if cohort is None:
        sec.blocks.append(Note(f"No example frames: cohort not available ({why})."))
        return sec
    if max_examples == 0 or scan is None:
        sec.blocks.append(Note("No example frames requested (max_examples=0)."))
        return sec
    frames = _choose_frames(scan, cohort, max_examples)
    sets, notes = _mask_sets(study, cohort)
    basis = "true masks" if scan.truth_pixels is not None else "fused confidence >= 50 %"
    sec.blocks.append(Para(
        f"Frames chosen for findings in the {basis} (B-lines with a consolidation first, one per patient "
        f"where possible). Panels: the image, the mean confidence over annotators (opacity grows with "
        f"confidence), {'the true masks, ' if cohort.truth is not None else ''}then each pipeline's "
        f"out-of-fold masks. Colours follow the class legend at the top."))
    sec.blocks += [Note(n) for n in notes]
    table = cohort.frames
    for f in frames:
        img = np.asarray(cohort.images[f])
        conf = np.asarray(cohort.confidence[f]).astype(np.float32).mean(axis=0) / 100.0
        panels = [("image", img), ("confidence (mean)", overlay(img, conf))]
        if cohort.truth is not None:
            panels.append(("truth", overlay(img, np.asarray(cohort.truth[f], np.float32))))
        for name, m in sets:
            panels.append((name, overlay(img, np.asarray(m.masks[f], np.float32))))
        row = table.iloc[f]
        present = [c for i, c in enumerate(CLASS_NAMES)
                   if (scan.truth_pixels if scan.truth_pixels is not None else scan.fused_pixels)[
                       int(np.flatnonzero(scan.index == f)[0]), i] > 0]
        title = (f"frame {row['frame_id']} (patient {row['patient_id']}, exam {row['exam_id']}, zone "
                 f"{row['zone']}, {row['probe']} probe)")
        sec.blocks.append(Figure(frame_grid(panels, title), name=f"example-{slug(str(row['frame_id']))}.png",
                                 caption=f"{title}; classes present: {', '.join(present) or 'none'}",
                                 alt=f"example frame {row['frame_id']}"))
    if not frames:
        sec.blocks.append(Note("The cohort has no frames to show."))
    return sec
