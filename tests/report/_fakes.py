"""Fake study folders for the report tests, written with the documented schema.

The studies are built here from the layout in ``lusfeat.pipeline`` (not by the
sweep), so the report tests do not depend on training or analysis code.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from lusfeat._io import write_json
from lusfeat.data import CLASS_NAMES, MaskWriter, open_cohort
from lusfeat.stats import RESULT_COLUMNS

STRATEGIES = ("threshold-50", "threshold-60", "soft")
REFERENCES = ("labels-50", "labels-60", "truth")
SEG_METRICS = ("dice", "iou", "precision", "recall", "hd95")
#: Stage seconds of the fake study; ``train/threshold-60`` is the slowest.
STAGE_SECONDS = {"train/threshold-50": 12.5, "train/threshold-60": 40.25, "train/soft": 7.0,
                 "segment/threshold-50": 1.5, "analysis/vs-threshold-50": 20.0}


def png(width: int = 40, height: int = 30) -> bytes:
    """A small valid PNG made with matplotlib."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 10, height / 10))
    fig.add_subplot().plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=10)
    return buf.getvalue()


def _names(seeds: int) -> list[str]:
    return [s if seeds == 1 else f"{s}-s{k}" for k in range(seeds) for s in STRATEGIES]


def segmentation_table(seeds: int, truth: bool, rng: np.random.Generator) -> pd.DataFrame:
    refs = (["truth"] if truth else []) + ["labels:50", "labels:60"]
    rows = []
    for name in _names(seeds):
        for ref in refs:
            for cls in CLASS_NAMES:
                for metric in SEG_METRICS:
                    est = float(rng.uniform(2, 9)) if metric == "hd95" else float(rng.uniform(0.4, 0.9))
                    rows.append({"pipeline": name, "strategy": name.split("-s")[0], "seed": 0, "reference": ref,
                                 "class": cls, "metric": metric, "estimate": est, "ci_low": est - 0.05,
                                 "ci_high": est + 0.05, "n": 100})
        for cls in CLASS_NAMES:
            rows.append({"pipeline": name, "strategy": name, "seed": 0, "reference": "confidence", "class": cls,
                         "metric": "ece", "estimate": 0.05, "ci_low": 0.03, "ci_high": 0.07, "n": 5000})
    return pd.DataFrame(rows)


def downstream_table(seeds: int, truth: bool, rng: np.random.Generator) -> pd.DataFrame:
    pipes = _names(seeds) + [r for r in REFERENCES if truth or r != "truth"]
    tasks = {"sf": ("mae", "rmse", "r2"), "readmission": ("auc", "brier", "calibration_slope")}
    rows = []
    for task, metrics in tasks.items():
        for model in ("linear", "xgboost"):
            for p in pipes:
                for metric in metrics:
                    est = float(rng.uniform(0.5, 0.9)) if metric != "mae" else float(rng.uniform(30, 60))
                    for ci_method in ("bca", "percentile"):
                        rows.append({"task": task, "kind": "metric", "pipeline": p, "model": model,
                                     "method": model, "metric": metric, "estimate": est, "ci_low": est * 0.9,
                                     "ci_high": est * 1.1, "ci_method": ci_method, "n": 40, "n_patients": 6})
                if p != "threshold-50":
                    for metric in metrics:
                        p_value = 0.001 if p == "truth" else float(rng.uniform(0.02, 0.2))
                        rows.append({"task": task, "kind": "comparison", "pipeline": p, "model": model,
                                     "method": model, "metric": metric, "estimate": 0.7, "ci_low": -0.1,
                                     "ci_high": 0.1, "ci_method": "paired-bootstrap-percentile",
                                     "reference": "threshold-50", "difference": 0.01, "p": p_value,
                                     "p_holm": min(1.0, p_value * 3), "p_bh": min(1.0, p_value * 2),
                                     "n": 40, "n_patients": 6})
    df = pd.DataFrame(rows)
    for c in RESULT_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    df = df[list(RESULT_COLUMNS)]
    df.insert(0, "analysis", "vs-threshold-50")
    return df


def seeds_table(seeds: int) -> pd.DataFrame:
    rows = []
    if seeds > 1:
        for s in STRATEGIES:
            for cls in CLASS_NAMES:
                rows.append({"strategy": s, "table": "segmentation", "task": "truth", "group": cls,
                             "metric": "dice", "n_seeds": seeds, "mean": 0.7, "sd": 0.02, "min": 0.68,
                             "max": 0.72})
            rows.append({"strategy": s, "table": "downstream", "task": "readmission", "group": "linear",
                         "metric": "auc", "n_seeds": seeds, "mean": 0.75, "sd": 0.03, "min": 0.71, "max": 0.78})
    return pd.DataFrame(rows, columns=["strategy", "table", "task", "group", "metric", "n_seeds", "mean", "sd",
                                       "min", "max"])


def make_study(root: Path, cohort: Path | None, *, seeds: int = 1, truth: bool = True,
               tables: tuple[str, ...] = ("segmentation", "downstream", "seeds"), masks: bool = True,
               plots: bool = True, skipped: dict[str, str] | None = None) -> Path:
    """Write a fake study folder at ``root`` and return it."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    names = _names(seeds)
    pipelines = {n: {"kind": "strategy", "strategy": n.split("-s")[0].replace("-", ":", 1),
                     "strategy_name": n.split("-s")[0], "seed": 0} for n in names}
    pipelines.update({r: {"kind": "reference", "source": r.replace("-", ":")} for r in REFERENCES
                      if truth or r != "truth"})
    meta = {
        "format": "lusfeat-study", "format_version": 1,
        "cohort": str(cohort.resolve()) if cohort is not None else str(root / "no-such-cohort"),
        "config": {"strategies": ["threshold:50", "threshold:60", "soft"], "baseline": "threshold:50",
                   "seeds": seeds, "seed": 0, "folds": 3, "tasks": ["sf", "sf-change", "readmission"],
                   "models": ["linear", "xgboost"]},
        "pipelines": pipelines, "status": "complete", "started": "2026-11-27T08:00:00",
        "finished": "2026-11-27T08:10:00", "versions": {"lusfeat": "0.1.0", "numpy": np.__version__},
        "hardware": {"platform": "test", "cpus": 2, "cuda": None}, "best": "threshold-60",
        "mean_dice": {"threshold-50": 0.61, "threshold-60": 0.66, "soft": 0.64}, "baseline": "threshold-50",
        "wall_seconds": 81.25,
        "stages": [{"stage": k, "kind": k.split("/")[0], "pipeline": k.split("/")[1], "cached": False,
                    "seconds": v, "key": "0" * 16, "output": k} for k, v in STAGE_SECONDS.items()],
    }
    write_json(root / "study.json", meta)
    (root / "tables").mkdir()
    makers = {"segmentation": lambda: segmentation_table(seeds, truth, rng),
              "downstream": lambda: downstream_table(seeds, truth, rng), "seeds": lambda: seeds_table(seeds)}
    for name in tables:
        makers[name]().to_parquet(root / "tables" / f"{name}.parquet", index=False)
    if masks and cohort is not None:
        c = open_cohort(cohort)
        n, (h, w) = c.n_frames, c.shape
        drawn = names[:2] if seeds == 1 else [names[0], names[len(STRATEGIES)]]  # two seeds of one strategy
        for k, name in enumerate(drawn):
            with MaskWriter(root / "masks" / name, n, h, w) as mw:
                base = np.asarray(c.truth[:], bool) if c.truth is not None else np.asarray(c.confidence[:, 0]) > 50
                mw.write(0, np.roll(base, k, axis=-1))
                mw.finish({"producer": "test"})
    analysis = root / "analysis" / "vs-threshold-50"
    analysis.mkdir(parents=True)
    write_json(analysis / "analysis.json", {"skipped": skipped if skipped is not None
                                            else {"sf-change": "too few events (test)"}})
    if plots:
        (analysis / "plots").mkdir()
        (analysis / "plots" / "readmission__linear__roc_calibration.png").write_bytes(png(60, 30))
        (analysis / "plots" / "sf__linear__pred_vs_obs.png").write_bytes(png(50, 30))
    return root
