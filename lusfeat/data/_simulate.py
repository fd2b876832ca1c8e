"""``simulate_cohort``: a synthetic LUS cohort with known ground truth.

The simulator chains three documented models:

* :mod:`lusfeat.data._sim_clinical` - patients, exams, latent severity, S/F and
  30-day readmission;
* :mod:`lusfeat.data._sim_scene` and :mod:`lusfeat.data._sim_render` - the
  findings each lung zone shows and the B-mode image formation;
* :mod:`lusfeat.data._sim_annotators` - what each simulated annotator draws and
  with which confidence.

Every clip draws from its own random stream derived from ``(seed, clip
number)``, so a cohort is reproducible byte for byte from its seed.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import InputError
from ._format import CLASS_NAMES, CohortWriter
from ._sim_annotators import annotate_clip, make_annotators
from ._sim_clinical import (
    ClinicalParams,
    simulate_clinical,
    true_coefficients,
    zone_names,
    zone_offset,
)
from ._sim_regions import class_regions, shadow_columns
from ._sim_render import RenderParams, render_clip
from ._sim_scanner import make_geometry, make_scanner
from ._sim_scene import sample_scene

__all__ = ["SimulationConfig", "simulate_cohort", "simulate_clip"]

log = logging.getLogger(__name__)
_TISSUE = ("pleural_line", "effusion")
_LUNG = ("a_line", "b_line", "consolidation")


@dataclass(frozen=True)
class SimulationConfig:
    """Options of :func:`simulate_cohort` (see its docstring)."""

    patients: int = 24
    exams: tuple[int, int] = (2, 3)
    zones: int = 6
    frames: int = 4
    size: int = 128
    probe: str = "mixed"
    annotators: int = 3
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`InputError` naming the first invalid option."""
        if self.patients < 1:
            raise InputError(f"--patients must be >= 1, got {self.patients}")
        lo, hi = self.exams
        if not (1 <= lo <= hi <= 20):
            raise InputError(f"--exams must be N or LO-HI with 1 <= LO <= HI <= 20, got {lo}-{hi}")
        if self.zones not in (6, 12):
            raise InputError(f"--zones must be 6 or 12, got {self.zones}")
        if not (1 <= self.frames <= 256):
            raise InputError(f"--frames must be between 1 and 256, got {self.frames}")
        if not (32 <= self.size <= 1024):
            raise InputError(f"--size must be between 32 and 1024 pixels, got {self.size}")
        if self.probe not in ("linear", "convex", "mixed"):
            raise InputError(f"--probe must be linear, convex or mixed, got {self.probe!r}")
        if not (1 <= self.annotators <= 16):
            raise InputError(f"--annotators must be between 1 and 16, got {self.annotators}")
        if self.seed < 0:
            raise InputError(f"--seed must be a non-negative integer, got {self.seed}")


def simulate_clip(
    rng: np.random.Generator,
    severity: float,
    probe: str,
    dependent: bool,
    frames: int,
    size: int,
    annotators: list,
) -> dict[str, np.ndarray | float]:
    """Simulate one clip: images, truth, confidence and pixel spacing.

    Returns
    -------
    dict
        ``images (F, H, W) uint8``, ``truth (F, C, H, W) bool``,
        ``confidence (F, A, C, H, W) uint8``, ``spacing`` (mm per pixel).
    """
    geom = make_geometry(rng, probe, size)
    native = size * geom.factor  # the scene, image and labels are formed at the native size
    scanner = make_scanner(rng, probe, native, geom.depth_mm)
    scene = sample_scene(rng, severity, native, native, probe, dependent, margin=2 * max(2, native // 48))
    images, offsets = render_clip(scene, frames, geom, scanner, rng, RenderParams())
    views = annotate_clip(scene, annotators, rng)
    truth_planes = class_regions(scene)
    not_shadow = ~shadow_columns(scene)
    c_idx = {c: k for k, c in enumerate(CLASS_NAMES)}
    n_ann = len(annotators)
    truth = np.zeros((frames, len(CLASS_NAMES), size, size), dtype=bool)
    conf = np.zeros((frames, n_ann, len(CLASS_NAMES), size, size), dtype=np.uint8)
    for cls in _TISSUE:
        truth[:, c_idx[cls]] = geom.apply(truth_planes[cls], native)
        for a in range(n_ann):
            plane = views[a][cls]
            if plane.any():
                conf[:, a, c_idx[cls]] = geom.apply(plane, native)
    for cls in _LUNG:
        wide = truth_planes[cls]
        has_truth = wide.any()
        ann_any = [views[a][cls].any() for a in range(n_ann)]
        for o in np.unique(offsets):  # frames with the same lung position share their masks
            fs = np.flatnonzero(offsets == o)
            if has_truth:
                truth[fs, c_idx[cls]] = geom.apply(wide[:, o : o + native] & not_shadow, native)
            for a in range(n_ann):
                if ann_any[a]:
                    sub = views[a][cls][:, o : o + native] * not_shadow
                    conf[fs, a, c_idx[cls]] = geom.apply(sub, native)
    return {"images": images, "truth": truth, "confidence": conf, "spacing": float(geom.spacing_mm)}


def simulate_cohort(
    out: str | os.PathLike,
    *,
    patients: int = 24,
    exams: int | tuple[int, int] = (2, 3),
    zones: int = 6,
    frames: int = 4,
    size: int = 128,
    probe: str = "mixed",
    annotators: int = 3,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    clinical_params: ClinicalParams | None = None,
) -> Path:
    """Simulate a lung ultrasound cohort and write it in the cohort format.

    Parameters
    ----------
    out : path-like
        Cohort folder to create.
    patients : int
        Number of patients.
    exams : int or (int, int)
        Exams per patient, fixed or an inclusive range.
    zones : {6, 12}
        Lung zones scanned per exam (one clip per zone).
    frames : int
        Frames per clip.
    size : int
        Frame height and width in pixels.
    probe : {"linear", "convex", "mixed"}
        Probe geometry; ``mixed`` draws one per clip (half convex).
    annotators : int
        Simulated annotators labelling every frame.
    seed : int
        Seed of every random draw; the same seed gives the same bytes.
    overwrite : bool
        Replace an existing cohort at ``out``.
    progress : bool
        Show a progress bar.
    clinical_params : ClinicalParams, optional
        Override the clinical model's parameters.

    Returns
    -------
    Path
        The cohort folder.

    Examples
    --------
    >>> from lusfeat.data import simulate_cohort, open_cohort  # doctest: +SKIP
    >>> c = open_cohort(simulate_cohort("demo", patients=4, seed=1))  # doctest: +SKIP
    """
    if isinstance(exams, int):
        exams = (exams, exams)
    cfg = SimulationConfig(patients, tuple(exams), zones, frames, size, probe, annotators, seed)
    cfg.check()
    cp = clinical_params or ClinicalParams()
    t0 = time.perf_counter()
    root = np.random.SeedSequence(seed)
    clin_ss, ann_ss, zone_ss, clip_ss = root.spawn(4)
    clinical, slopes = simulate_clinical(np.random.default_rng(clin_ss), patients, cfg.exams, cp)
    anns = make_annotators(np.random.default_rng(ann_ss), annotators)
    clips = _plan_clips(clinical, zones, np.random.default_rng(zone_ss), cp)
    n_clips = len(clips)
    n_frames = n_clips * frames
    clip_seeds = clip_ss.spawn(n_clips)
    probes = _clip_probes(probe, n_clips, np.random.default_rng(root.spawn(1)[0]))
    with CohortWriter(out, n_frames, size, size, annotators, with_truth=True, overwrite=overwrite) as w:
        rows = _simulate_clips(w, clips, clip_seeds, probes, anns, cfg, progress)
        frames_df = pd.DataFrame(rows)
        public = clinical.drop(columns=["severity"])
        elapsed = time.perf_counter() - t0
        w.finish(_cohort_meta(cfg, cp, anns, clinical, slopes, elapsed), frames_df, public)
    log.info("simulated %d frames (%d clips) in %.1f s -> %s", n_frames, n_clips, elapsed, out)
    return Path(out)


def _plan_clips(clinical: pd.DataFrame, zones: int, zrng: np.random.Generator,
                cp: ClinicalParams) -> list[tuple[str, str, str, float]]:
    """Every clip to simulate: ``(patient_id, exam_id, zone, zone severity)`` in writing order.

    A zone's severity is its exam's severity plus the zone's fixed offset plus a
    per-patient zone effect drawn from ``zrng`` (patients in order, zones in order).
    """
    znames = zone_names(zones)
    zone_effect = {
        (pid, z): float(zrng.normal(0, cp.zone_sd)) for pid in clinical["patient_id"].unique() for z in znames
    }
    clips = []
    for row in clinical.itertuples(index=False):
        for z in znames:
            zsev = row.severity + zone_offset(z, zones) + zone_effect[(row.patient_id, z)]
            clips.append((row.patient_id, row.exam_id, z, float(zsev)))
    return clips


def _clip_probes(probe: str, n_clips: int, probe_rng: np.random.Generator) -> list:
    """The probe of each clip: ``probe``, or for ``mixed`` convex or linear with equal odds."""
    return (
        [probe] * n_clips if probe != "mixed" else list(np.where(probe_rng.random(n_clips) < 0.5, "convex", "linear"))
    )


def _simulate_clips(w: CohortWriter, clips: list[tuple[str, str, str, float]], clip_seeds: list, probes: list,
                    anns: list, cfg: SimulationConfig, progress: bool) -> list[dict]:
    """Simulate every clip from its own seed and write it; return the frame-table rows.

    Clips are written in batches of at least 64 frames, each compressed and written in
    a background thread while the next clips render.
    """
    frames = cfg.frames
    n_clips = len(clips)
    rows = []
    writer_pool = ThreadPoolExecutor(max_workers=1)
    pending = None
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from .._progress import progress_bar

    with writer_pool, progress_bar(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                   enabled=progress) as bar:
        task = bar.add_task("simulate", total=n_clips)
        start = 0
        buf: dict[str, list] = {"images": [], "truth": [], "confidence": []}
        buf_start = 0
        for k, (pid, eid, z, zsev) in enumerate(clips):
            rng = np.random.default_rng(clip_seeds[k])
            dependent = zone_offset(z, cfg.zones) >= 0.0
            clip = simulate_clip(rng, zsev, str(probes[k]), dependent, frames, cfg.size, anns)
            rows += _frame_rows(f"{eid}-{z}-C1", pid, eid, z, zsev, str(probes[k]), clip["spacing"], start, frames)
            for key in buf:
                buf[key].append(clip[key])
            start += frames
            if start - buf_start >= 64 or k == n_clips - 1:
                # compress and write in the background while the next clips render
                if pending is not None:
                    pending.result()
                pending = writer_pool.submit(
                    w.write,
                    buf_start,
                    np.concatenate(buf["images"]),
                    np.concatenate(buf["confidence"]),
                    np.concatenate(buf["truth"]),
                )
                buf = {"images": [], "truth": [], "confidence": []}
                buf_start = start
            bar.advance(task)
        if pending is not None:
            pending.result()
    return rows


def _frame_rows(clip_id: str, pid: str, eid: str, z: str, zsev: float, probe: str, spacing: float, start: int,
                frames: int) -> list[dict]:
    """Frame-table rows of one clip whose frames are stored from array index ``start``."""
    return [
        {
            "frame_id": f"{clip_id}-F{f + 1:03d}",
            "patient_id": pid,
            "exam_id": eid,
            "zone": z,
            "clip_id": clip_id,
            "frame_index": f,
            "array_index": start + f,
            "probe": probe,
            "pixel_spacing_mm": spacing,
            "zone_severity": zsev,
        }
        for f in range(frames)
    ]


def _cohort_meta(cfg: SimulationConfig, cp: ClinicalParams, anns: list, clinical: pd.DataFrame, slopes: dict,
                 elapsed: float) -> dict:
    """The ``source`` and ``simulation`` metadata of a simulated cohort (the hidden truth)."""
    severity = dict(zip(clinical["exam_id"], clinical["severity"].round(6), strict=True))
    return {
        "source": {
            "kind": "simulated",
            "simulator": {**asdict(cfg), "exams": list(cfg.exams)},
            "seed": cfg.seed,
            "render": asdict(RenderParams()),
            "clinical": asdict(cp),
            "annotators": [asdict(a) for a in anns],
        },
        "simulation": {
            "true_coefficients": true_coefficients(cp),
            "exam_severity": severity,
            "patient_slope_per_day": slopes,
            "notes": "zone_severity in frames.parquet is the latent severity of each clip's zone",
        },
        "timing_s": round(elapsed, 3),
    }
