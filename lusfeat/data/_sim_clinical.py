"""Clinical model of the simulator: patients, exams, latent severity, S/F, readmission.

The model (all parameters in :class:`ClinicalParams`, written to the cohort
metadata):

* Each patient has an age (years), sex and etiology, and a baseline latent
  severity ``s0 ~ N(mu_etiology, sd_baseline)``. Severity is on a 0-5 scale:
  0 is a normal lung, 5 is a diffusely consolidated lung.
* Exams happen on days ``0, d1, d2, ...`` with gaps of 1-4 days. Severity
  evolves linearly with a patient-specific slope ``b ~ N(slope_mean, slope_sd)``
  per day plus exam noise: ``s_e = clip(s0 + b * day_e + eps_e, 0, 5)``.
* Zone severity adds a dependent-zone offset (posterior and basal zones are
  worse) and a zone random effect: ``z = s_e + offset(zone) + u_z``. Zone
  severity drives the findings the image simulator draws (see
  :mod:`lusfeat.data._sim_scene`).
* True oxygenation: ``SF* = sf_intercept + sf_slope * s_e + N(0, sf_noise)``
  (S/F in %/fraction). The bedside team titrates oxygen: room air
  (FiO2 0.21) when ``SF* x 0.21 >= 94``; otherwise FiO2 (0.01 steps, 0.22-1.0)
  aimed at a target SpO2 ~ U(92, 96) %, delivered by nasal cannula (up to
  0.45), Venturi mask (0.60), non-rebreather (0.80) or high-flow (1.0).
  Observed ``SpO2 = min(100, SF* x FiO2 + N(0, 1.5))`` rounded to 1%, which
  reproduces the ceiling effect at 100% and ``sf_ratio = SpO2 / FiO2``.
* The last exam is the discharge exam. 30-day readmission is Bernoulli with
  ``logit p = r_intercept + r_severity * s_discharge + r_trend * trend
  + r_age * (age - 60) / 10 + r_male * male`` where ``trend`` is severity
  change per day between the first and the discharge exam.

The true coefficients and each exam's latent severity are stored in the
cohort metadata under ``simulation`` so that analyses can be checked
against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["ClinicalParams", "simulate_clinical", "zone_names", "zone_offset"]

ETIOLOGIES = ("covid19", "bacterial_pneumonia", "heart_failure", "ards_other")
#: Mean baseline severity per etiology.
ETIOLOGY_MEAN = {"covid19": 2.6, "bacterial_pneumonia": 2.2, "heart_failure": 2.0, "ards_other": 3.2}
#: Oxygen devices and the highest FiO2 (fraction) each delivers, lowest first.
#: Nasal cannula: about 0.21 + 0.04 per L/min up to 6 L/min.
O2_DEVICES = (
    ("nasal_cannula", 0.45),
    ("venturi_mask", 0.60),
    ("nonrebreather", 0.80),
    ("high_flow", 1.00),
)


@dataclass(frozen=True)
class ClinicalParams:
    """Parameters of the clinical model (units in the field names' docs).

    Attributes
    ----------
    sd_baseline : float
        SD of baseline severity around the etiology mean.
    slope_mean, slope_sd : float
        Severity change per day (negative = improving).
    exam_noise : float
        SD of exam-level severity noise.
    zone_sd : float
        SD of zone random effects.
    sf_intercept, sf_slope, sf_noise : float
        True S/F = intercept + slope * severity + N(0, noise).
    r_intercept, r_severity, r_trend, r_age, r_male : float
        Readmission logistic coefficients (severity units, per day, per decade).
    """

    sd_baseline: float = 0.8
    slope_mean: float = -0.15
    slope_sd: float = 0.35
    exam_noise: float = 0.25
    zone_sd: float = 0.5
    sf_intercept: float = 470.0
    sf_slope: float = -62.0
    sf_noise: float = 22.0
    r_intercept: float = -2.2
    r_severity: float = 0.9
    r_trend: float = 2.0
    r_age: float = 0.25
    r_male: float = 0.2


def zone_names(n_zones: int) -> list[str]:
    """Zone labels: ``R1..R6, L1..L6`` (12-zone) or ``R1..R3, L1..L3`` (6-zone).

    In the 12-zone scheme 1-2 are anterior, 3-4 lateral and 5-6 posterior,
    odd upper and even lower; in the 6-zone scheme 1 is anterior, 2 lateral
    and 3 posterior.
    """
    if n_zones not in (6, 12):
        raise ValueError(f"zones must be 6 or 12, got {n_zones}")
    k = n_zones // 2
    return [f"{side}{i}" for side in ("R", "L") for i in range(1, k + 1)]


def zone_offset(zone: str, n_zones: int) -> float:
    """Dependent-zone severity offset: posterior/basal zones are worse."""
    i = int(zone[1:])
    if n_zones == 12:
        region = (i - 1) // 2  # 0 anterior, 1 lateral, 2 posterior
        lower = (i % 2) == 0
        return -0.6 + 0.55 * region + (0.3 if lower else 0.0)
    return -0.6 + 0.6 * (i - 1)


def _choose_oxygen(rng: np.random.Generator, sf_true: float) -> tuple[str, float]:
    """Titrate oxygen: room air if SpO2 >= 94 % on it, else the FiO2 (0.01 steps)
    that aims at a target SpO2 drawn from U(92, 96) %, and the device that
    delivers it."""
    if sf_true * 0.21 >= 94.0:
        return "room_air", 0.21
    target = rng.uniform(92.0, 96.0)
    fio2 = float(np.clip(np.round(target / sf_true, 2), 0.22, 1.0))
    for name, top in O2_DEVICES:
        if fio2 <= top:
            return name, fio2
    return O2_DEVICES[-1][0], fio2


def simulate_clinical(
    rng: np.random.Generator,
    patients: int,
    exams: tuple[int, int],
    params: ClinicalParams = ClinicalParams(),
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Draw patients and exams.

    Parameters
    ----------
    rng : numpy.random.Generator
    patients : int
        Number of patients.
    exams : (int, int)
        Inclusive range of exams per patient.
    params : ClinicalParams

    Returns
    -------
    clinical : pandas.DataFrame
        One row per exam with the cohort clinical columns plus ``severity``
        (latent, removed before writing the public table).
    patient_effects : dict
        Per-patient slope (severity units per day), keyed by patient_id.
    """
    rows = []
    slopes = {}
    lo, hi = exams
    for p in range(patients):
        pid = f"P{p + 1:04d}"
        age = float(np.clip(np.round(rng.normal(62, 14)), 18, 95))
        sex = "M" if rng.random() < 0.55 else "F"
        etiology = ETIOLOGIES[rng.integers(len(ETIOLOGIES))]
        s0 = rng.normal(ETIOLOGY_MEAN[etiology], params.sd_baseline)
        slope = rng.normal(params.slope_mean, params.slope_sd)
        slopes[pid] = float(slope)
        n_ex = int(rng.integers(lo, hi + 1))
        days = np.concatenate([[0], np.cumsum(rng.integers(1, 5, size=n_ex - 1))]).astype(int)
        sev = np.clip(s0 + slope * days + rng.normal(0, params.exam_noise, n_ex), 0.0, 5.0)
        sf_true = params.sf_intercept + params.sf_slope * sev + rng.normal(0, params.sf_noise, n_ex)
        sf_true = np.clip(sf_true, 60.0, 500.0)
        trend = (sev[-1] - sev[0]) / max(days[-1], 1)
        logit = (
            params.r_intercept
            + params.r_severity * sev[-1]
            + params.r_trend * trend
            + params.r_age * (age - 60) / 10
            + params.r_male * (sex == "M")
        )
        readmit = int(rng.random() < 1 / (1 + np.exp(-logit)))
        discharge = f"{pid}-E{n_ex}"
        for e in range(n_ex):
            device, fio2 = _choose_oxygen(rng, sf_true[e])
            spo2 = float(np.clip(np.round(sf_true[e] * fio2 + rng.normal(0, 1.5)), 50, 100))
            rows.append(
                {
                    "patient_id": pid,
                    "exam_id": f"{pid}-E{e + 1}",
                    "day": int(days[e]),
                    "spo2": spo2,
                    "fio2": fio2,
                    "sf_ratio": spo2 / fio2,
                    "o2_device": device,
                    "age": age,
                    "sex": sex,
                    "etiology": etiology,
                    "readmit_30d": readmit,
                    "discharge_exam_id": discharge,
                    "severity": float(sev[e]),
                }
            )
    return pd.DataFrame(rows), slopes


def true_coefficients(params: ClinicalParams) -> dict[str, dict[str, float]]:
    """The generating coefficients, grouped by outcome, for the metadata."""
    p = asdict(params)
    return {
        "sf_true": {"intercept": p["sf_intercept"], "severity": p["sf_slope"], "noise_sd": p["sf_noise"]},
        "readmit_30d_logit": {
            "intercept": p["r_intercept"],
            "discharge_severity": p["r_severity"],
            "trend_per_day": p["r_trend"],
            "age_per_decade_from_60": p["r_age"],
            "male": p["r_male"],
        },
        "severity": {
            "etiology_mean": dict(ETIOLOGY_MEAN),
            "sd_baseline": p["sd_baseline"],
            "slope_mean_per_day": p["slope_mean"],
            "slope_sd_per_day": p["slope_sd"],
            "exam_noise_sd": p["exam_noise"],
            "zone_sd": p["zone_sd"],
        },
    }
