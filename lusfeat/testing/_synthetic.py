"""A small synthetic study (clinical table + exam feature tables) with known effects.

Used by the stats tests and benchmarks so that the analysis can be checked
without images. The clinical table is drawn by the simulator's clinical model
(:func:`lusfeat.data._sim_clinical.simulate_clinical`: latent severity per
exam, S/F through the oxygen titration, readmission at discharge), and exam
features are linear in the latent severity plus noise. ``noise`` per pipeline
mimics how faithful a mask pipeline is (truth masks: small noise;
low-threshold labels: large).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..data import CLASS_NAMES
from ..data._sim_clinical import ClinicalParams, simulate_clinical

__all__ = ["synthetic_study"]

_FEATURES = ("count", "area_mm2", "width_mm")
_AGGS = ("mean", "max")


def _feature_table(name: str, sd: float, clinical: pd.DataFrame, severity: pd.Series, n_noise: int,
                   seed: int) -> pd.DataFrame:
    """Exam features of one pipeline: ``loading * (severity + N(0, sd)) + 10`` per column."""
    frng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    n = len(clinical)
    cols = {"exam_id": clinical["exam_id"], "patient_id": clinical["patient_id"]}
    for c, cls in enumerate(CLASS_NAMES):
        for f, feat in enumerate(_FEATURES):
            for a, agg in enumerate(_AGGS):
                loading = (1.0 + 0.3 * f + 0.2 * a) * (1 if c in (2, 3, 4) else -0.5)
                cols[f"{cls}_{feat}_{agg}"] = loading * (severity.to_numpy() + frng.normal(0, sd, n)) + 10
    for k in range(n_noise):
        cols[f"noise_{k}"] = frng.normal(0, 1, n)
    return pd.DataFrame(cols)


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
    params = ClinicalParams(slope_mean=slope_mean, slope_sd=slope_sd)
    clinical, _ = simulate_clinical(np.random.default_rng(seed), patients, exams, params)
    severity = clinical.set_index("exam_id")["severity"]
    clinical = clinical.drop(columns="severity")
    tables = {name: _feature_table(name, sd, clinical, severity, n_noise_features, seed)
              for name, sd in noise.items()}
    return clinical, tables, severity
