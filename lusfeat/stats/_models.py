"""Model families fitted inside each cross-validation fold.

``linear``
    * S/F (regression): OLS with cluster-robust (by patient) standard errors, or
      a MixedLM with a patient random intercept (``sf_model="mixedlm"``; out-of-fold
      predictions use the fixed effects, as a new patient's intercept is unknown).
      With more features than ``max_features`` (default: one per 10 training
      patients) the features most correlated with the outcome on the training rows
      are kept (univariate screening, redone in every fold).
    * Binary outcomes: statsmodels Logit (cluster-robust by patient when patients
      contribute several rows; odds ratios with CIs) while there are at least 10
      events of the minority class per feature; otherwise, or when the Logit does
      not converge (separation), an L2-penalised logistic regression (scikit-learn,
      standardised features) as the baseline, its ``C`` chosen by log loss on an
      inner patient-grouped 3-fold split of the training rows (or fixed by ``l2_c``).
    * Three classes: L2-penalised multinomial logistic regression, ``C`` as above.
``penalized``
    Ridge-penalised models on standardised features, the penalty chosen by
    patient-grouped inner cross-validation of the training rows
    (:func:`lusfeat.stats._cv.inner_folds`): ridge regression for S/F (squared
    error over :data:`RIDGE_GRID`), L2 logistic regression for binary outcomes and
    multinomial L2 logistic regression for three classes (log loss over
    :data:`L2_GRID`). No feature screening: the penalty handles many features.
``xgboost``
    XGBoost with its tree depth, ``min_child_weight`` and number of trees chosen
    by patient-grouped inner CV of the training rows (:mod:`lusfeat.stats._xgboost`).

Binary decision thresholds (balanced accuracy, F1) are chosen in each fold on
the training rows by Youden's J (:func:`youden_threshold`), never at 0.5: on
inner out-of-fold scores for the models tuned by inner CV (``penalized``,
``xgboost``, the L2 fallback of ``linear``), on the fitted probabilities for the
unpenalised Logit.

Every statistic used for preprocessing (medians, means, SDs, screening) is
computed from the training rows of the fold, never from the test rows.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from ._fitted import EstimatorFit, FittedModel, LinearFit, LogitFit, Preprocessing, youden_threshold
from ._xgboost import fit_xgboost

__all__ = ["MODELS", "FittedModel", "collected_fit_warnings", "fit_model", "youden_threshold"]

logger = logging.getLogger(__name__)

MODELS = ("xgboost", "linear", "penalized")


def _screen(xs: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` columns most correlated (absolute Pearson r) with ``y``."""
    if xs.shape[1] <= k:
        return np.arange(xs.shape[1])
    yc = (y - y.mean()) / (y.std() + 1e-300)
    r = np.abs(xs.T @ yc) / xs.shape[0]
    return np.sort(np.argsort(-r, kind="stable")[:k])


def _unscale(params: np.ndarray, cov: np.ndarray, mean: np.ndarray, sd: np.ndarray):
    """Map intercept+slopes (and covariance) from standardised to original units."""
    k = params.size
    a = np.zeros((k, k))
    a[0, 0] = 1.0
    a[0, 1:] = -mean / sd
    a[1:, 1:] = np.diag(1.0 / sd)
    return a @ params, a @ cov @ a.T


def _coef_table(names, params_std, cov_std, mean, sd, df_resid, odds: bool) -> pd.DataFrame:
    from scipy import stats

    params, cov = _unscale(params_std, cov_std, mean, sd)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    se_std = np.sqrt(np.clip(np.diag(cov_std), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = params_std / se_std
        stat[0] = params[0] / se[0]
    if df_resid is None:
        q = stats.norm.ppf(0.975)
        p = 2 * stats.norm.sf(np.abs(stat))
    else:
        q = stats.t.ppf(0.975, df_resid)
        p = 2 * stats.t.sf(np.abs(stat), df_resid)
    table = pd.DataFrame(
        {"coef": params, "se": se, "ci_low": params - q * se, "ci_high": params + q * se,
         "z" if df_resid is None else "t": stat, "p": p,
         "coef_per_sd": np.r_[np.nan, params_std[1:]]},
        index=["const"] + list(names),
    )
    if odds:
        table.insert(1, "odds_ratio", np.exp(table["coef"]))
        table.insert(2, "or_ci_low", np.exp(table["ci_low"]))
        table.insert(3, "or_ci_high", np.exp(table["ci_high"]))
    return table


def _group_codes(groups: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(groups), return_inverse=True)[1]


def _fit_warnings(method: str, caught: list[warnings.WarningMessage]) -> list[str]:
    """Notes (``warning: ...``) for the distinct warnings a statsmodels fit raised, each logged once.

    Non-convergence, a boundary or singular random-effects covariance, a
    singular design: every one of them belongs in the results, not silenced.
    """
    notes: list[str] = []
    counter = _COLLECTED.get()
    for w in caught:
        text = f"warning: {method} fit: {w.category.__name__}: {' '.join(str(w.message).split())}"
        if text not in notes:
            notes.append(text)
            if counter is None:
                logger.warning("%s", text.removeprefix("warning: "))
            else:
                counter[text] += 1
    return notes


#: Counts of fit warnings while :func:`collected_fit_warnings` is active (None: log each one).
_COLLECTED: contextvars.ContextVar[collections.Counter | None] = contextvars.ContextVar(
    "lusfeat_fit_warnings", default=None)


@contextlib.contextmanager
def collected_fit_warnings(what: str) -> Iterator[collections.Counter]:
    """Log each distinct fit warning once, with the number of fits that raised it, at the end.

    An analysis fits the same model on many folds and repeats; the same
    warning (a rank-deficient design, a boundary MixedLM) would otherwise be
    logged once per fit. The notes of every fitted model keep their warnings.

    Parameters
    ----------
    what : str
        Names the work in the log line, e.g. ``"analysis"``.
    """
    counter: collections.Counter = collections.Counter()
    token = _COLLECTED.set(counter)
    try:
        yield counter
    finally:
        _COLLECTED.reset(token)
        for text, n in counter.items():
            logger.warning("%s (%d %s fit%s)", text.removeprefix("warning: "), n, what, "" if n == 1 else "s")


def _fit_linear(kind, x, y, groups, names, *, sf_model, max_features, l2_c, seed) -> FittedModel:
    import statsmodels.api as sm

    prep = Preprocessing.fit(x)
    xs = prep.scale(x)
    kept = [n for n, k in zip(names, prep.keep, strict=True) if k]
    n_groups = np.unique(groups).size
    clustered = n_groups < len(groups)
    info: list[tuple[str, object]] = [("Rows", len(y)), ("Patients", n_groups)]
    notes: list[str] = []
    if kind == "regression":
        cap = max_features or max(1, n_groups // 10)
        cols = _screen(xs, y, cap)
        if len(cols) < xs.shape[1]:
            notes.append(
                f"{len(cols)} of {xs.shape[1]} features kept by univariate screening on the "
                "fitting rows; CIs do not account for the selection"
            )
        exog = sm.add_constant(xs[:, cols], has_constant="add")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if sf_model == "mixedlm":
                res = sm.MixedLM(y, exog, groups=_group_codes(groups)).fit(reml=True)
                params = np.asarray(res.fe_params)
                cov = np.asarray(res.cov_params())[: params.size, : params.size]
                method, df_resid = "mixedlm", None
                info += [("Method", "MixedLM, patient random intercept"),
                         ("Group variance", float(np.asarray(res.cov_re).ravel()[0])),
                         ("Residual variance", float(res.scale))]
                if not getattr(res, "converged", True):
                    notes.append("warning: MixedLM did not converge; estimates may be unreliable")
            else:
                cov_kw = {"cov_type": "cluster", "cov_kwds": {"groups": _group_codes(groups)}}
                res = sm.OLS(y, exog).fit(**cov_kw)
                params, cov = np.asarray(res.params), np.asarray(res.cov_params())
                method, df_resid = "ols-cluster", n_groups - 1
                info += [("Method", "OLS, cluster-robust SE by patient"),
                         ("R-squared", float(res.rsquared)), ("Adj. R-squared", float(res.rsquared_adj))]
        notes += _fit_warnings(method, caught)
        sel = [kept[i] for i in cols]
        table = _coef_table(sel, params, cov, prep.mean[cols], prep.sd[cols], df_resid, odds=False)
        return LinearFit("linear", method, kind, list(names), cols, res, info, table, notes, prep=prep,
                         params=params)

    if kind == "binary":
        minority = int(min(y.sum(), len(y) - y.sum()))
        cap = max_features or max(1, minority // 10)
        info.append(("Events (minority)", minority))
        if xs.shape[1] <= cap:
            fitted = _try_logit(xs, y, groups, clustered)
            if fitted is not None:
                res, params, cov = fitted
                info.append(("Method", "Logit" + (", cluster-robust SE by patient" if clustered else "")))
                cols = np.arange(xs.shape[1])
                table = _coef_table(kept, params, cov, prep.mean, prep.sd, None, odds=True)
                eta = params[0] + xs @ params[1:]
                thr = youden_threshold(y, 1.0 / (1.0 + np.exp(-eta)))
                info.append(("Threshold (Youden J, fitted rows)", thr))
                return LogitFit("linear", "logit", kind, list(names), cols, res, info, table, notes,
                                threshold=thr, prep=prep, params=params)
            notes.append("Logit did not converge (separation?); L2-penalised logistic used instead")
        else:
            notes.append(
                f"{xs.shape[1]} features for {minority} minority-class events (< 10 events per "
                "feature): L2-penalised logistic regression instead of Logit"
            )
    return _penalised_logistic("linear", kind, xs, y, groups, kept, names, prep, info, notes, l2_c, seed)


def _penalised_logistic(family, kind, xs, y, groups, kept, names, prep, info, notes, l2_c, seed) -> FittedModel:
    est, c_used, inner = _fit_l2(xs, y.astype(int), groups, l2_c, seed)
    method = "logit-l2" if kind == "binary" else "multinomial-l2"
    how = "chosen by inner patient-grouped CV" if l2_c is None and inner is not None else "fixed"
    info = info + [("Method", "L2-penalised logistic regression, standardised features"),
                   ("C (inverse penalty)", f"{c_used:.4g} ({how})")]
    coef = est.coef_
    thr = float("nan")
    if kind == "binary":
        table = pd.DataFrame({"coef_per_sd": np.r_[est.intercept_, coef[0]],
                              "odds_ratio_per_sd": np.exp(np.r_[est.intercept_, coef[0]])},
                             index=["const"] + kept)
        rows, score = inner if inner is not None else (np.arange(len(y)), est.predict_proba(xs)[:, 1])
        thr = youden_threshold(y[rows], score)
        info.append(("Threshold (Youden J, " + ("inner CV" if inner is not None else "fitted rows") + ")", thr))
    else:
        table = pd.DataFrame(np.vstack([est.intercept_, coef.T]),
                             index=["const"] + kept,
                             columns=[f"coef_per_sd[class {c}]" for c in est.classes_])
    notes = notes + ["penalised coefficients are shrunk; no standard errors are reported"]
    cols = np.arange(xs.shape[1])
    return EstimatorFit(family, method, kind, list(names), cols, est, info, table, notes, threshold=thr,
                        prep=prep)


#: Candidate ridge penalties (standardised features) searched by inner CV.
RIDGE_GRID = np.logspace(-2, 4, 13)


def _fit_penalized(kind, x, y, groups, names, *, l2_c, seed) -> FittedModel:
    """Ridge regression or L2 logistic regression, penalty by inner grouped CV."""
    from ._cv import inner_folds

    prep = Preprocessing.fit(x)
    xs = prep.scale(x)
    kept = [n for n, k in zip(names, prep.keep, strict=True) if k]
    info: list[tuple[str, object]] = [("Rows", len(y)), ("Patients", np.unique(groups).size)]
    if kind != "regression":
        return _penalised_logistic("penalized", kind, xs, y, groups, kept, names, prep, info, [], l2_c, seed)
    from sklearn.linear_model import Ridge

    splits = inner_folds(groups, None, 5, seed)
    if splits:
        loss = np.zeros(RIDGE_GRID.size)
        for tr, te in splits:
            loss += _ridge_path_sse(xs[tr], y[tr], xs[te], y[te])
        alpha = float(RIDGE_GRID[int(np.argmin(loss))])
        how = f"chosen by inner {len(splits)}-fold patient-grouped CV"
    else:
        alpha, how = 1.0, "fixed (too few patients for inner CV)"
    est = Ridge(alpha=alpha).fit(xs, y)
    info += [("Method", "ridge regression, standardised features"), ("alpha (penalty)", f"{alpha:.4g} ({how})"),
             ("R-squared (fitted rows)", float(est.score(xs, y)))]
    table = pd.DataFrame({"coef_per_sd": np.r_[est.intercept_, est.coef_]}, index=["const"] + kept)
    notes = ["penalised coefficients are shrunk; no standard errors are reported"]
    return EstimatorFit("penalized", "ridge", kind, list(names), np.arange(xs.shape[1]), est, info,
                        table, notes, prep=prep)


def _ridge_path_sse(xtr, ytr, xte, yte) -> np.ndarray:
    """Validation sum of squared errors of ridge fits for every :data:`RIDGE_GRID` penalty (one SVD)."""
    mx, my = xtr.mean(axis=0), ytr.mean()
    u, d, vt = np.linalg.svd(xtr - mx, full_matrices=False)
    uty = u.T @ (ytr - my)
    proj = (xte - mx) @ vt.T  # (n_te, r)
    shrink = d[None, :] / (d[None, :] ** 2 + RIDGE_GRID[:, None])  # (G, r)
    pred = my + (shrink * uty[None, :]) @ proj.T  # (G, n_te)
    return ((pred - yte[None, :]) ** 2).sum(axis=1)


#: Candidate inverse L2 strengths searched by inner CV.
L2_GRID = np.logspace(-3, 1, 5)


def _fit_l2(xs, y, groups, l2_c, seed):
    """L2 logistic regression; ``C`` from inner grouped CV (log loss) unless fixed.

    Returns the estimator, the ``C`` used and ``(rows, scores)``: the pooled inner
    out-of-fold probabilities of class 1 at the chosen ``C`` (binary, when inner
    folds were built; else None).
    """
    from sklearn.linear_model import LogisticRegression

    from ._cv import inner_folds

    c = l2_c
    binary = np.unique(y).size == 2
    # liblinear is ~5x faster than lbfgs on few rows and many features; it penalises the
    # intercept too, which a large intercept_scaling makes negligible. Three classes: lbfgs.
    kw = {"solver": "liblinear", "intercept_scaling": 100.0, "max_iter": 2000} if binary else {"max_iter": 2000}
    inner = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs/liblinear iteration notices on tiny inner folds
        splits = inner_folds(groups, y, 3, seed)
        if splits:
            grid = L2_GRID if c is None else np.array([c])
            loss = np.zeros(grid.size)
            oof = np.full((grid.size, len(y)), np.nan)
            for tr, te in splits:
                for i, cand in enumerate(grid):
                    m = LogisticRegression(C=cand, **kw).fit(xs[tr], y[tr])
                    p = np.clip(m.predict_proba(xs[te]), 1e-12, 1)
                    idx = np.searchsorted(m.classes_, y[te])
                    loss[i] += -np.log(p[np.arange(te.size), idx]).sum()
                    if binary:
                        oof[i, te] = p[:, 1]
            best = int(np.argmin(loss))
            c = float(grid[best])
            rows = np.concatenate([te for _, te in splits])
            inner = (rows, oof[best, rows]) if binary else None
        elif c is None:
            c = 1.0
        est = LogisticRegression(C=c, **kw).fit(xs, y)
    return est, float(c), inner


def _try_logit(xs, y, groups, clustered):
    import statsmodels.api as sm

    exog = sm.add_constant(xs, has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            kw = {"cov_type": "cluster", "cov_kwds": {"groups": _group_codes(groups)}} if clustered else {}
            res = sm.Logit(y, exog).fit(disp=0, maxiter=100, **kw)
        except Exception as exc:  # PerfectSeparationError, LinAlgError
            logger.debug("Logit failed: %s", exc)
            return None
    bad = [w for w in caught if "converge" in str(w.message).lower() or "separation" in str(w.message).lower()]
    params = np.asarray(res.params)
    if bad or not res.mle_retvals.get("converged", True) or not np.all(np.isfinite(params)):
        return None
    return res, params, np.asarray(res.cov_params())


def fit_model(
    model: str,
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    *,
    seed: int = 0,
    n_jobs: int = 1,
    sf_model: str = "ols",
    max_features: int | None = None,
    l2_c: float | None = None,
    xgb_params: dict[str, Any] | None = None,
) -> FittedModel:
    """Fit one model family on training rows.

    Parameters
    ----------
    model : {"xgboost", "linear", "penalized"}
    kind : {"regression", "binary", "multiclass"}
    x : (n, p) float
        Features (NaN allowed: imputed by training medians for linear models,
        handled natively by XGBoost).
    y : (n,) float
        Outcome (class index for classification).
    groups : (n,) array
        Patient of each row (cluster-robust SEs, inner early-stopping split).
    names : list of str
        Feature names, ``p`` of them.
    seed, n_jobs : int
        Seed and thread count of XGBoost (and of the penalised logistic solver).
    sf_model : {"ols", "mixedlm"}
        Linear model for regression.
    max_features : int, optional
        Feature cap of the linear models (default from the 10-per-feature rule).
    l2_c : float, optional
        Inverse L2 strength of the penalised logistic baseline; default chosen
        by inner patient-grouped CV from :data:`L2_GRID`.
    xgb_params : dict, optional
        Overrides of :data:`lusfeat.stats._xgboost.XGB_DEFAULTS` (``max_depth``,
        ``min_child_weight`` or ``n_estimators`` fix that hyperparameter).

    Returns
    -------
    FittedModel

    Raises
    ------
    InputError
        For an unknown model, kind or ``sf_model``.
    """
    if model not in MODELS:
        raise InputError(f"--model must be one of {MODELS} or 'all'; got {model!r}")
    if kind not in ("regression", "binary", "multiclass"):
        raise InputError(f"unknown task kind {kind!r}")
    if sf_model not in ("ols", "mixedlm"):
        raise InputError(f"sf_model must be 'ols' or 'mixedlm'; got {sf_model!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    groups = np.asarray(groups)
    if model == "xgboost":
        return fit_xgboost(kind, x, y, groups, names, seed=seed, n_jobs=n_jobs, xgb_params=xgb_params)
    if model == "penalized":
        return _fit_penalized(kind, x, y, groups, names, l2_c=l2_c, seed=seed)
    return _fit_linear(kind, x, y, groups, names, sf_model=sf_model, max_features=max_features,
                       l2_c=l2_c, seed=seed)
