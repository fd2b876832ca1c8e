"""PNG plots of an analysis: predicted vs observed S/F, ROC and calibration curves.

Bands are 95% pointwise patient-level bootstrap intervals of the out-of-fold
curves (predictions averaged over CV repeats). Figures are built with
``matplotlib.figure.Figure`` (no pyplot state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._resample import patient_codes, patient_counts, row_weights

__all__ = ["write_plots", "roc_band", "calibration_band"]

#: Resamples behind the plotted bands (the tables use the full bootstrap).
PLOT_RESAMPLES = 300
_GRID = np.linspace(0, 1, 101)


def _weights(groups: np.ndarray, b: int, seed: int) -> np.ndarray:
    n_patients, codes = patient_codes(groups)
    return row_weights(patient_counts(n_patients, b, np.random.default_rng(seed)), codes)


def _roc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """TPR on :data:`_GRID` of FPR for each weight row, ``(B, G)``."""
    order = np.argsort(-p, kind="mergesort")
    ps = p[order]
    last = np.r_[ps[1:] != ps[:-1], True]
    tp = np.cumsum(w[:, order] * (y[order] == 1), axis=1)[:, last]
    fp = np.cumsum(w[:, order] * (y[order] == 0), axis=1)[:, last]
    out = np.empty((w.shape[0], _GRID.size))
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.c_[np.zeros(w.shape[0]), tp / tp[:, -1:]]
        fpr = np.c_[np.zeros(w.shape[0]), fp / fp[:, -1:]]
    for i in range(w.shape[0]):
        out[i] = np.interp(_GRID, fpr[i], tpr[i]) if np.isfinite(fpr[i, -1]) else np.nan
    return out


def _band(boot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise 2.5 and 97.5 percentiles over resamples (rows) of ``boot`` ``(R, k)``, ignoring NaN.

    A column that no resample defines (e.g. a calibration bin that every resample
    left empty) has no band: NaN (not plotted), without a warning.
    """
    lo = np.full(boot.shape[1], np.nan)
    hi = np.full(boot.shape[1], np.nan)
    ok = np.isfinite(boot).any(axis=0)
    if ok.any():
        lo[ok], hi[ok] = np.nanpercentile(boot[:, ok], [2.5, 97.5], axis=0)
    return lo, hi


def roc_band(y, p, groups, resamples: int = PLOT_RESAMPLES, seed: int = 0):
    """FPR grid, ROC (TPR) and its pointwise 95% band: four ``(101,)`` arrays."""
    curve = _roc(y, p, np.ones((1, len(y))))[0]
    boot = _roc(y, p, _weights(groups, resamples, seed))
    lo, hi = _band(boot)
    return _GRID, curve, lo, hi


def calibration_band(y, p, groups, bins: int = 10, resamples: int = PLOT_RESAMPLES, seed: int = 0):
    """Mean predicted and observed rate per quantile bin, with a 95% band: four ``(k,)`` arrays."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(edges.size - 2, 0))
    onehot = np.eye(max(edges.size - 1, 1))[b]
    w = _weights(groups, resamples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = (p @ onehot) / onehot.sum(axis=0)
        obs = (y @ onehot) / onehot.sum(axis=0)
        boot = ((w * y) @ onehot) / (w @ onehot)
    lo, hi = _band(boot)
    return mean_p, obs, lo, hi


def _mean_predictions(pred: pd.DataFrame) -> pd.DataFrame:
    keys = ["task", "pipeline", "model", "row_id", "patient_id"]
    return pred.groupby(keys, sort=False, as_index=False).agg(y_true=("y_true", "first"),
                                                             y_pred=("y_pred", "mean"))


def write_plots(pred: pd.DataFrame, kinds: dict[str, str], folder: Path) -> list[Path]:
    """Write the analysis plots into ``folder``; return the files.

    Parameters
    ----------
    pred : pandas.DataFrame
        Out-of-fold predictions (:attr:`AnalysisResult.predictions`).
    kinds : dict of task -> kind
        ``"regression"``, ``"binary"`` or ``"multiclass"`` per task.
    folder : Path
    """
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if pred.empty:
        return files
    mp = _mean_predictions(pred)
    for (task, model), g in mp.groupby(["task", "model"], sort=False):
        kind = kinds.get(task)
        pipes = list(g["pipeline"].unique())
        if kind == "regression":
            ncols = min(4, len(pipes))
            nrows = -(-len(pipes) // ncols)
            fig = Figure(figsize=(3.6 * ncols, 3.4 * nrows), layout="constrained")
            axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for ax in axes[len(pipes):]:
                ax.set_axis_off()
            for ax, p in zip(axes, pipes, strict=False):
                d = g[g["pipeline"] == p]
                ax.scatter(d["y_true"], d["y_pred"], s=8, alpha=0.6)
                lim = [min(d["y_true"].min(), d["y_pred"].min()), max(d["y_true"].max(), d["y_pred"].max())]
                ax.plot(lim, lim, "k--", lw=1)
                ax.set(xlabel="observed S/F", ylabel="predicted S/F (out-of-fold)", title=f"{p} ({model})")
            path = folder / f"{task}__{model}__pred_vs_obs.png"
        elif kind == "binary":
            fig = Figure(figsize=(9, 4), layout="constrained")
            ax_roc, ax_cal = fig.subplots(1, 2)
            for i, p in enumerate(pipes):
                d = g[g["pipeline"] == p]
                y, s, grp = d["y_true"].to_numpy(), d["y_pred"].to_numpy(), d["patient_id"].to_numpy()
                fpr, tpr, lo, hi = roc_band(y, s, grp)
                color = f"C{i}"
                ax_roc.plot(fpr, tpr, color=color, label=p)
                ax_roc.fill_between(fpr, lo, hi, color=color, alpha=0.2)
                mp_, ob, clo, chi = calibration_band(y, s, grp)
                ax_cal.plot(mp_, ob, "o-", color=color, ms=3, label=p)
                ax_cal.fill_between(mp_, clo, chi, color=color, alpha=0.2)
            ax_roc.plot([0, 1], [0, 1], "k--", lw=1)
            ax_roc.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC, {task} ({model})")
            ax_roc.legend(loc="lower right", fontsize=8)
            ax_cal.plot([0, 1], [0, 1], "k--", lw=1)
            ax_cal.set(xlabel="predicted probability", ylabel="observed rate",
                       title=f"calibration, {task} ({model})", xlim=(0, 1), ylim=(0, 1))
            path = folder / f"{task}__{model}__roc_calibration.png"
        else:
            continue
        fig.savefig(path, dpi=100)
        files.append(path)
    return files
