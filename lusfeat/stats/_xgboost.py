"""XGBoost in the cross-validation folds: small-data defaults, inner early stopping.

XGBoost's scikit-learn estimators with shallow trees, shrinkage and subsampling,
a fixed seed and thread count, and early stopping on an inner patient-grouped
split (20% of the training patients) of the training rows only; the test rows
of a fold are never seen. NaN features are handled natively.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._cv import inner_group_split
from ._models import FittedModel

__all__ = ["XGB_DEFAULTS", "EARLY_STOPPING_ROUNDS", "fit_xgboost"]

#: Small-data XGBoost defaults (overridable with ``xgb_params``).
XGB_DEFAULTS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.1,
    "max_depth": 3,
    "min_child_weight": 2.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "max_bin": 64,
}
EARLY_STOPPING_ROUNDS = 20


def fit_xgboost(kind, x, y, groups, names, *, seed, n_jobs, xgb_params) -> FittedModel:
    """Fit XGBoost on training rows; early stopping on an inner patient-grouped split."""
    import xgboost as xgb

    cols = np.flatnonzero(~np.all(np.isnan(x), axis=0))
    params = {**XGB_DEFAULTS, **(xgb_params or {})}
    params.update(random_state=seed, n_jobs=n_jobs)
    fit_idx, stop_idx = inner_group_split(groups, 0.2, seed)
    yk = y if kind == "regression" else y.astype(int)
    if kind != "regression" and np.unique(yk[fit_idx]).size < np.unique(yk).size:
        stop_idx = np.array([], dtype=np.intp)
        fit_idx = np.arange(len(y))
    if stop_idx.size:
        params["early_stopping_rounds"] = EARLY_STOPPING_ROUNDS
    if kind == "regression":
        est = xgb.XGBRegressor(**params)
    elif kind == "binary":
        est = xgb.XGBClassifier(**params, eval_metric="logloss")
    else:
        est = xgb.XGBClassifier(**params, objective="multi:softprob", eval_metric="mlogloss")
    xs = x[:, cols]
    eval_set = [(xs[stop_idx], yk[stop_idx])] if stop_idx.size else None
    est.fit(xs[fit_idx], yk[fit_idx], eval_set=eval_set, verbose=False)
    best = getattr(est, "best_iteration", None) if stop_idx.size else None
    gain = est.get_booster().get_score(importance_type="gain")
    imp = np.array([gain.get(f"f{i}", 0.0) for i in range(len(cols))])
    total = imp.sum() or 1.0
    table = pd.DataFrame({"gain": imp, "gain_share": imp / total},
                         index=[names[i] for i in cols]).sort_values("gain", ascending=False)
    info = [("Rows", len(y)), ("Patients", np.unique(groups).size),
            ("Method", "XGBoost (scikit-learn API)"),
            ("Trees used", (best + 1) if best is not None else params["n_estimators"]),
            ("Early stopping", f"{len(np.unique(groups[stop_idx]))} inner patients" if stop_idx.size else "off"),
            ("max_depth", params["max_depth"]), ("learning_rate", params["learning_rate"]),
            ("Seed / threads", f"{seed} / {n_jobs}")]
    notes = ["importances are split gains on the fitting rows, not effects with CIs"]
    return FittedModel("xgboost", "xgboost", kind, list(names), None, cols, est, info, table, notes)
