"""A small synthetic study (clinical table + exam feature tables) with known effects.

Used by the stats tests and benchmark so that the analysis can be checked
without images: each exam has a latent severity; S/F and readmission follow
the simulator's clinical model (:mod:`lusfeat.data`), and exam features are
linear in severity plus noise. ``noise`` per pipeline mimics how faithful a
mask pipeline is (truth masks: small noise; low-threshold labels: large).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..data import CLASS_NAMES as _CLASSES

__all__ = ["synthetic_study"]

_FEATURES = ("count", "area_mm2", "width_mm")
_AGGS = ("mean", "max")
_LADDER = ((0.21, "room_air"), (0.24, "nasal_cannula_1L"), (0.28, "nasal_cannula_2L"),
           (0.32, "nasal_cannula_3L"), (0.36, "nasal_cannula_4L"), (0.44, "nasal_cannula_6L"),
           (0.50, "venturi_mask"), (0.60, "nonrebreather"), (0.80, "nonrebreather_high"),
           (0.90, "high_flow"), (1.00, "high_flow_max"))


def synthetic_study(
    patients: int = 120,
    *,
    exams: tuple[int, int] = (2, 3),
    noise: Mapping[str, float] | None = None,
    n_noise_features: int = 4,
    slope_mean: float = -0.25,
    slope_sd: float = 0.25,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """Draw a clinical table and exam-level feature tables with known signal.

    Parameters
    ----------
    patients : int
        Number of patients.
    exams : (int, int)
        Inclusive range of exams per patient.
    noise : mapping of str -> float, optional
        Pipeline name -> feature noise SD (in severity units); default
        ``{"truth": 0.3, "noisy": 1.5}``.
    n_noise_features : int
        Extra pure-noise columns per table.
    slope_mean, slope_sd : float
        Severity change per day across patients (negative = improving).
    seed : int

    Returns
    -------
    clinical : pandas.DataFrame
        Cohort clinical columns, one row per exam.
    features : dict of str -> pandas.DataFrame
        Per pipeline, ``exam_id, patient_id`` and numeric ``<class>_<feature>_<agg>`` columns.
    severity : pandas.Series
        Latent severity by ``exam_id``.
    """
    noise = dict(noise or {"truth": 0.3, "noisy": 1.5})
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(patients):
        pid = f"P{i + 1:04d}"
        age = float(np.clip(np.round(rng.normal(62, 14)), 18, 95))
        sex = "M" if rng.random() < 0.55 else "F"
        s0 = rng.normal(2.5, 0.8)
        slope = rng.normal(slope_mean, slope_sd)
        n_ex = int(rng.integers(exams[0], exams[1] + 1))
        days = np.r_[0, np.cumsum(rng.integers(1, 5, n_ex - 1))].astype(int)
        sev = np.clip(s0 + slope * days + rng.normal(0, 0.25, n_ex), 0, 5)
        sf_true = np.clip(470 - 62 * sev + rng.normal(0, 22, n_ex), 60, 500)
        trend = (sev[-1] - sev[0]) / max(days[-1], 1)
        logit = -2.2 + 0.9 * sev[-1] + 2.0 * trend + 0.25 * (age - 60) / 10 + 0.2 * (sex == "M")
        readmit = int(rng.random() < 1 / (1 + np.exp(-logit)))
        for e in range(n_ex):
            fio2, dev = next(((f, d) for f, d in _LADDER if sf_true[e] * f >= (94 if f == 0.21 else 92)),
                             _LADDER[-1])
            spo2 = float(np.clip(np.round(sf_true[e] * fio2 + rng.normal(0, 1)), 50, 100))
            rows.append({"patient_id": pid, "exam_id": f"{pid}-E{e + 1}", "day": int(days[e]),
                         "spo2": spo2, "fio2": fio2, "sf_ratio": spo2 / fio2, "o2_device": dev,
                         "age": age, "sex": sex, "etiology": "covid19", "readmit_30d": readmit,
                         "discharge_exam_id": f"{pid}-E{n_ex}", "severity": float(sev[e])})
    clinical = pd.DataFrame(rows)
    severity = clinical.set_index("exam_id")["severity"]
    clinical = clinical.drop(columns="severity")
    n = len(clinical)
    tables = {}
    for name, sd in noise.items():
        frng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        cols = {"exam_id": clinical["exam_id"], "patient_id": clinical["patient_id"]}
        for c, cls in enumerate(_CLASSES):
            for f, feat in enumerate(_FEATURES):
                for a, agg in enumerate(_AGGS):
                    loading = (1.0 + 0.3 * f + 0.2 * a) * (1 if c in (2, 3, 4) else -0.5)
                    cols[f"{cls}_{feat}_{agg}"] = loading * (
                        severity.to_numpy() + frng.normal(0, sd, n)) + 10
        for k in range(n_noise_features):
            cols[f"noise_{k}"] = frng.normal(0, 1, n)
        tables[name] = pd.DataFrame(cols)
    return clinical, tables, severity
