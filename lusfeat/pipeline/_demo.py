"""``lusfeat demo``: the whole study on a small simulated cohort, sized for 2 CPU cores."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

from .._io import read_json
from ..data import SimulationConfig, simulate_cohort
from ._sweep import SweepConfig, run_sweep

__all__ = ["DEMO_COHORT", "DEMO_SWEEP", "run_demo"]

log = logging.getLogger(__name__)

#: The demo's simulated cohort (128 px frames, legible in the report).
DEMO_COHORT = SimulationConfig(patients=40, exams=(2, 3), zones=6, frames=1, size=128, probe="mixed",
                               annotators=3, seed=2026)
#: The demo's sweep: three strategies, a small U-Net trained at 64 px (predictions are
#: resized back to the 128 px frames), 3 patient folds.
DEMO_SWEEP = SweepConfig(
    strategies=("threshold:50", "threshold:60", "soft"), baseline="threshold:50", thresholds=(50, 60, 70, 80, 90, 100),
    seeds=1, seed=0, folds=3, epochs=10, batch_size=32, size=64, depth=3, width=12, device="auto",
    eval_bootstrap=300, analysis_folds=3, analysis_repeats=1, analysis_bootstrap=500, min_events=8,
)


def run_demo(out: str | os.PathLike = "lusfeat-demo", *, threads: int | None = None, device: str = "auto",
             progress: bool = True, cohort: SimulationConfig = DEMO_COHORT,
             sweep: SweepConfig = DEMO_SWEEP) -> Path:
    """Simulate the demo cohort (once), run the sweep (resumable) and write the report.

    Parameters
    ----------
    out : path-like
        Folder receiving ``cohort/``, ``study/`` and ``report.html``.
    threads : int, optional
        CPU threads for training and XGBoost.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    progress : bool
    cohort, sweep : SimulationConfig, SweepConfig
        Override the demo's settings (tests use smaller ones).

    Returns
    -------
    Path
        The report's path.
    """
    from dataclasses import replace

    out = Path(out)
    cpath = out / "cohort"
    wanted = {**asdict(cohort), "exams": list(cohort.exams)}
    have = None
    if (cpath / "cohort.json").exists():
        have = read_json(cpath / "cohort.json").get("source", {}).get("simulator")
    if have != wanted:
        log.info("simulating the demo cohort -> %s", cpath)
        c = asdict(cohort)
        simulate_cohort(cpath, overwrite=True, progress=progress, **c)
    else:
        log.info("reusing the demo cohort in %s", cpath)
    cfg = replace(sweep, threads=threads, device=device)
    run_sweep(cpath, out / "study", cfg, progress=progress)
    from ..report import build_report

    report = build_report(out / "study", out / "report.html")  # logs where the report went
    return Path(report)
