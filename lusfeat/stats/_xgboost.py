"""XGBoost in the cross-validation folds: hyperparameters tuned by inner grouped CV.

On a few hundred rows a boosted model collapses to the base rate unless its
capacity is chosen with care (early stopping on one small inner split stops at
the first trees). Here, inside every outer training fold:

1. the training rows are split into ``INNER_FOLDS`` patient-grouped inner folds
   (stratified for classes; fewer when a class has few patients);
2. every configuration of :data:`XGB_GRID` (tree depth x ``min_child_weight``,
   learning rate :data:`XGB_DEFAULTS` ``learning_rate``) is fitted with
   ``max(XGB_TREES)`` trees on each inner training part, and its inner
   validation rows are predicted with the first ``t`` trees for every ``t`` in
   :data:`XGB_TREES` (one fit serves every tree count);
3. the configuration and tree count with the lowest pooled inner out-of-fold
   loss (log loss for classes, squared error for S/F) are refitted on all the
   training rows.

The pooled inner out-of-fold predictions at the chosen configuration are kept:
the binary decision threshold of the fold (Youden J) is chosen on them, as
in-sample scores of a boosted model are overfitted. When no inner folds can be
built (fewer than 2 patients of a class, or 4 in all) the fixed configuration
``XGB_FALLBACK`` is used and noted in the summary. The test rows of an outer
fold are never seen. NaN features are handled natively.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from ._cv import inner_folds
from ._fitted import XGBoostFit, youden_threshold

__all__ = ["XGB_DEFAULTS", "XGB_GRID", "XGB_TREES", "XGB_FALLBACK", "INNER_FOLDS", "fit_xgboost"]

#: Fixed parameters of every fit (overridable with ``xgb_params``).
XGB_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "max_bin": 32,
}
#: Searched configurations: tree depth x minimum child weight (hessian sum).
XGB_GRID: dict[str, tuple] = {"max_depth": (1, 2), "min_child_weight": (1.0, 5.0)}
#: Searched tree counts (one fit per configuration serves all of them).
XGB_TREES: tuple[int, ...] = (10, 25, 50, 100, 150)
#: Configuration used when no inner folds can be built.
XGB_FALLBACK: dict[str, Any] = {"max_depth": 2, "min_child_weight": 1.0, "n_estimators": 50}
INNER_FOLDS = 3


def _booster_params(kind: str, n_classes: int, cfg: dict[str, Any], seed: int, n_jobs: int) -> dict:
    p = {"eta": cfg["learning_rate"], "max_depth": int(cfg["max_depth"]),
         "min_child_weight": float(cfg["min_child_weight"]), "subsample": cfg["subsample"],
         "colsample_bytree": cfg["colsample_bytree"], "lambda": cfg["reg_lambda"],
         "tree_method": cfg["tree_method"], "max_bin": int(cfg["max_bin"]), "seed": int(seed),
         "nthread": int(n_jobs), "verbosity": 0}
    if kind == "regression":
        p["objective"] = "reg:squarederror"
    elif kind == "binary":
        p["objective"] = "binary:logistic"
    else:
        p.update(objective="multi:softprob", num_class=int(n_classes))
    return p


def _loss(kind: str, y: np.ndarray, pred: np.ndarray) -> float:
    if kind == "regression":
        return float(np.mean((pred - y) ** 2))
    if kind == "binary":
        q = np.clip(pred, 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    q = np.clip(pred[np.arange(y.size), y.astype(int)], 1e-12, 1)
    return float(-np.mean(np.log(q)))


class _Booster:
    """A fitted booster with a fixed tree count (picklable, predicts NumPy arrays)."""

    def __init__(self, booster: Any, trees: int, n_jobs: int) -> None:
        self.booster = booster
        self.trees = int(trees)
        self.n_jobs = int(n_jobs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        d = xgb.DMatrix(x, nthread=self.n_jobs)
        return np.asarray(self.booster.predict(d, iteration_range=(0, self.trees)), dtype=np.float64)


def fit_xgboost(kind, x, y, groups, names, *, seed, n_jobs, xgb_params) -> XGBoostFit:
    """Fit XGBoost on training rows, hyperparameters by inner patient-grouped CV.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    x : (n, p) float
        Training features (NaN allowed).
    y : (n,) float
        Outcome (class index for classes).
    groups : (n,) array
        Patient of each row.
    names : list of str
        Feature names.
    seed, n_jobs : int
        Seed and thread count of every fit.
    xgb_params : dict or None
        Overrides of :data:`XGB_DEFAULTS`; ``max_depth``, ``min_child_weight`` or
        ``n_estimators`` given here fix that hyperparameter instead of searching it.

    Returns
    -------
    XGBoostFit
        ``method="xgboost"``; ``results`` the booster with its tree count;
        ``threshold`` from the inner out-of-fold scores.
    """
    import xgboost as xgb

    cols = np.flatnonzero(~np.all(np.isnan(x), axis=0))
    over = dict(xgb_params or {})
    fixed = {**XGB_DEFAULTS, **{k: v for k, v in over.items() if k not in ("max_depth", "min_child_weight",
                                                                          "n_estimators")}}
    xs = x[:, cols]
    yk = y if kind == "regression" else y.astype(int)
    n_classes = int(yk.max()) + 1 if kind == "multiclass" else 2
    chosen, oof_scores, how = _tune(kind, xs, yk, groups, n_classes, fixed, over, seed=seed, n_jobs=n_jobs)
    params = _booster_params(kind, n_classes, {**fixed, **chosen}, seed, n_jobs)
    booster = xgb.train(params, xgb.DMatrix(xs, label=yk, nthread=n_jobs),
                        num_boost_round=int(chosen["n_estimators"]))
    est = _Booster(booster, int(chosen["n_estimators"]), n_jobs)
    threshold = np.nan
    if kind == "binary":
        if oof_scores is not None:
            threshold = youden_threshold(yk[oof_scores[0]], oof_scores[1])
        else:
            threshold = youden_threshold(yk, est.predict(xs))
    table = _gain_table(booster, cols, names)
    info = [("Rows", len(y)), ("Patients", np.unique(groups).size),
            ("Method", "XGBoost (native API)"),
            ("Tuning", how),
            ("Trees", int(chosen["n_estimators"])), ("max_depth", int(chosen["max_depth"])),
            ("min_child_weight", float(chosen["min_child_weight"])),
            ("learning_rate", fixed["learning_rate"]),
            ("Seed / threads", f"{seed} / {n_jobs}")]
    if kind == "binary":
        info.append(("Threshold (Youden J)", float(threshold)))
    notes = ["importances are split gains on the fitting rows, not effects with CIs"]
    return XGBoostFit("xgboost", "xgboost", kind, list(names), cols, est, info, table, notes,
                      threshold=float(threshold))


def _tune(kind: str, xs: np.ndarray, yk: np.ndarray, groups: np.ndarray, n_classes: int, fixed: dict[str, Any],
          over: dict[str, Any], *, seed: int, n_jobs: int) -> tuple[dict[str, Any], tuple | None, str]:
    """Hyperparameters by inner patient-grouped CV over :data:`XGB_GRID` x :data:`XGB_TREES`.

    Hyperparameters in ``over`` are not searched. With too few patients for inner
    folds, :data:`XGB_FALLBACK` is used.

    Returns
    -------
    (dict, tuple or None, str)
        The chosen ``max_depth``, ``min_child_weight`` and ``n_estimators``; the
        chosen candidate's inner out-of-fold ``(rows, scores)`` (None without inner
        CV); how they were chosen, in words.
    """
    grid = {k: (over[k],) if k in over else v for k, v in XGB_GRID.items()}
    trees = (int(over["n_estimators"]),) if "n_estimators" in over else XGB_TREES
    splits = inner_folds(groups, None if kind == "regression" else yk, INNER_FOLDS, seed)
    configs = [dict(zip(grid, v, strict=True)) for v in itertools.product(*grid.values())]
    if not splits:
        chosen = {**XGB_FALLBACK, **{k: over[k] for k in ("max_depth", "min_child_weight", "n_estimators")
                                     if k in over}}
        return chosen, None, "fixed fallback (too few patients for inner CV)"
    oof = _inner_predictions(kind, xs, yk, n_classes, splits, configs, trees, fixed, seed=seed, n_jobs=n_jobs)
    covered = np.concatenate([va for _, va in splits])
    losses = np.array([[_loss(kind, yk[covered], oof[c, t, covered]) for t in range(len(trees))]
                       for c in range(len(configs))])
    ci, ti = np.unravel_index(int(np.argmin(losses)), losses.shape)
    chosen = {**configs[ci], "n_estimators": trees[ti]}
    how = f"inner {len(splits)}-fold patient-grouped CV ({len(configs) * len(trees)} candidates)"
    return chosen, (covered, oof[ci, ti, covered]), how


def _inner_predictions(kind: str, xs: np.ndarray, yk: np.ndarray, n_classes: int, splits: list,
                       configs: list[dict[str, Any]], trees: tuple[int, ...], fixed: dict[str, Any], *,
                       seed: int, n_jobs: int) -> np.ndarray:
    """Out-of-fold predictions ``(config, trees, n[, classes])`` of every candidate (NaN off the folds).

    One booster per fold and configuration, grown to the most trees and read at each
    tree count.
    """
    import xgboost as xgb

    shape = (len(configs), len(trees), len(yk)) + ((n_classes,) if kind == "multiclass" else ())
    oof = np.full(shape, np.nan)
    for tr, va in splits:
        dtr = xgb.DMatrix(xs[tr], label=yk[tr], nthread=n_jobs)
        dva = xgb.DMatrix(xs[va], nthread=n_jobs)
        for c, cfg in enumerate(configs):
            b = xgb.train(_booster_params(kind, n_classes, {**fixed, **cfg}, seed, n_jobs), dtr,
                          num_boost_round=max(trees))
            for t, nt in enumerate(trees):
                oof[c, t, va] = b.predict(dva, iteration_range=(0, nt))
    return oof


def _gain_table(booster: Any, cols: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Split gain and gain share of each used feature, largest first."""
    gain = booster.get_score(importance_type="gain")
    imp = np.array([gain.get(f"f{i}", 0.0) for i in range(len(cols))])
    total = imp.sum() or 1.0
    return pd.DataFrame({"gain": imp, "gain_share": imp / total},
                        index=[names[i] for i in cols]).sort_values("gain", ascending=False)
