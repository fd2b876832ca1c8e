"""A small hand-made cohort for the segmentation tests (independent of the simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat.data import CLASS_NAMES, CLINICAL_COLUMNS, CohortWriter


def make_frames(n: int, size: int = 32, annotators: int = 2, seed: int = 0):
    """Images with a bright pleural band, vertical B-line bands and dark round consolidations.

    Returns images (N, H, W) uint8, confidence (N, A, C, H, W) uint8, truth (N, C, H, W) bool.
    """
    rng = np.random.default_rng(seed)
    c = len(CLASS_NAMES)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, size, size), np.uint8)
    truth = np.zeros((n, c, size, size), bool)
    for i in range(n):
        img = rng.normal(40, 8, (size, size))
        y0 = int(rng.integers(size // 5, size // 3))
        pleural = (yy >= y0) & (yy < y0 + 2)
        truth[i, 0] = pleural
        img[pleural] = 220
        if rng.random() < 0.6:
            x0 = int(rng.integers(2, size - 6))
            band = (xx >= x0) & (xx < x0 + 3) & (yy > y0 + 1)
            truth[i, 2] = band
            img[band] = 150
        if rng.random() < 0.5:
            cy, cx, r = int(rng.integers(y0 + 6, size - 4)), int(rng.integers(5, size - 5)), 3
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            truth[i, 3] = disk
            img[disk] = 110
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    conf = np.zeros((n, annotators, c, size, size), np.uint8)
    for a in range(annotators):
        level = rng.integers(62, 101, size=(n, c, 1, 1))
        noise = rng.integers(0, 30, size=(n, c, size, size))
        conf[:, a] = np.where(truth, level, np.where(rng.random((n, c, size, size)) < 0.02, noise, 0))
    return images, conf, truth


def write_cohort(path, patients: int = 4, frames_per_patient: int = 4, size: int = 32, seed: int = 0,
                 drawn: tuple[int, ...] | None = None):
    """A hand-made cohort; with ``drawn`` the annotators drew only those classes (the others' confidence 0)."""
    n = patients * frames_per_patient
    images, conf, truth = make_frames(n, size=size, seed=seed)
    if drawn is not None:
        conf[:, :, [c for c in range(conf.shape[2]) if c not in drawn]] = 0
    pid = np.repeat([f"P{p:02d}" for p in range(patients)], frames_per_patient)
    exam = np.char.add(pid.astype(str), "-E1")
    frames = pd.DataFrame({
        "frame_id": [f"F{i:04d}" for i in range(n)], "patient_id": pid, "exam_id": exam,
        "zone": "R1", "clip_id": np.char.add(exam, "-R1"), "frame_index": np.arange(n) % frames_per_patient,
        "array_index": np.arange(n), "probe": "linear", "pixel_spacing_mm": 0.2,
    })
    exams = pd.unique(exam)
    clinical = pd.DataFrame({col: [None] * len(exams) for col in CLINICAL_COLUMNS})
    clinical["patient_id"] = [e.split("-")[0] for e in exams]
    clinical["exam_id"] = exams
    with CohortWriter(path, n, size, size, conf.shape[1], with_truth=True) as w:
        w.write(0, images, conf, truth)
        w.finish({"source": {"kind": "test"}}, frames, clinical)
    return path


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory):
    """Cohort: 4 patients x 4 frames of 32x32, 2 annotators, with truth."""
    return write_cohort(tmp_path_factory.mktemp("seg") / "cohort")


@pytest.fixture
def make_cohort(tmp_path):
    """Factory: ``make_cohort(name, **kwargs)`` writes a hand-made cohort under ``tmp_path``."""

    def make(name: str = "cohort", **kwargs):
        return write_cohort(tmp_path / name, **kwargs)

    return make
