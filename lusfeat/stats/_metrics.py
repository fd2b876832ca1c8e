"""Weighted metrics evaluated for many bootstrap resamples at once.

A cluster bootstrap resample is a vector of patient counts; every row of the
out-of-fold table inherits its patient's count as a weight. Each metric here
takes the fixed data ``(y, p)`` of ``n`` rows and a weight matrix ``(B, n)``
and returns ``(B,)`` values, so all resamples are evaluated in one pass of
array code. With ``w = ones((1, n))`` a metric equals its usual unweighted
(scikit-learn) definition; the tests hold them together.

Sorting depends only on the data, not on the weights, so rank-based metrics
(AUC, average precision, Spearman r) sort once and use cumulative weight sums.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "REGRESSION_METRICS",
    "BINARY_METRICS",
    "MULTICLASS_METRICS",
    "metric_names",
    "evaluate",
]

_EPS = 1e-12


def _wsum(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return w @ x


def _wmean(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    tot = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ x) / tot


def _wpearson(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted Pearson r per row of ``w``; ``a``/``b`` are ``(n,)`` or ``(B, n)``."""
    tot = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (w * a).sum(axis=1, keepdims=True) / tot
        mb = (w * b).sum(axis=1, keepdims=True) / tot
        da, db = a - ma, b - mb
        cov = (w * da * db).sum(axis=1)
        va = (w * da * da).sum(axis=1)
        vb = (w * db * db).sum(axis=1)
        return cov / np.sqrt(va * vb)


def _tie_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start index of each tie group in sorted order, group of each row."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group_sorted = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    group = np.empty_like(group_sorted)
    group[order] = group_sorted
    return order, starts, group


def _group_weights(w: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of weights per tie group, ``(B, G)``."""
    return np.add.reduceat(w[:, order], starts, axis=1)


def _wranks(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Weighted mid-ranks (up to a constant shift) of ``x`` in each resample, ``(B, n)``."""
    order, starts, group = _tie_groups(x)
    gw = _group_weights(w, order, starts)
    below = np.cumsum(gw, axis=1) - gw
    mid = below + 0.5 * gw
    return mid[:, group]


# --- regression --------------------------------------------------------------------------

def mae(y, p, w):
    return _wmean(w, np.abs(p - y))


def rmse(y, p, w):
    return np.sqrt(_wmean(w, (p - y) ** 2))


def r2(y, p, w):
    tot = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = (w @ y)[:, None] / tot
        sse = w @ ((p - y) ** 2)
        sst = (w * (y - ybar) ** 2).sum(axis=1)
        return 1.0 - sse / sst


def pearson(y, p, w):
    return _wpearson(w, y, p)


def spearman(y, p, w):
    return _wpearson(w, _wranks(w, y), _wranks(w, p))


# --- binary classification (y in {0, 1}, p = probability of class 1) ----------------------

def auc(y, p, w):
    order, starts, _ = _tie_groups(p)
    pos = _group_weights(w * (y == 1), order, starts)
    neg = _group_weights(w * (y == 0), order, starts)
    neg_below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def auprc(y, p, w):
    """Average precision (scikit-learn's step-wise definition)."""
    order, starts, _ = _tie_groups(-p)
    pos = _group_weights(w * (y == 1), order, starts)
    allw = _group_weights(w, order, starts)
    tp = np.cumsum(pos, axis=1)
    n_pred = np.cumsum(allw, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1.0), 0.0)
        return (pos * precision).sum(axis=1) / pos.sum(axis=1)


def _confusion(y, p, w, threshold=0.5):
    hit = p >= threshold
    tp = w @ (hit & (y == 1)).astype(float)
    fp = w @ (hit & (y == 0)).astype(float)
    fn = w @ (~hit & (y == 1)).astype(float)
    tn = w @ (~hit & (y == 0)).astype(float)
    return tp, fp, fn, tn


def balanced_accuracy(y, p, w, threshold=0.5):
    tp, fp, fn, tn = _confusion(y, p, w, threshold)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.5 * (tp / (tp + fn) + tn / (tn + fp))


def f1(y, p, w, threshold=0.5):
    tp, fp, fn, _ = _confusion(y, p, w, threshold)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * tp / (2 * tp + fp + fn)


def brier(y, p, w):
    return _wmean(w, (p - y) ** 2)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _calibration_fit(y, p, w, free_slope: bool, iters: int = 30) -> np.ndarray:
    """Batched weighted logistic fit of ``y`` on ``logit(p)``: ``(B, 2)`` (intercept, slope).

    With ``free_slope=False`` the slope is fixed at 1 (``logit(p)`` as offset),
    which gives the calibration-in-the-large intercept.
    """
    lp = _logit(p)
    b = w.shape[0]
    a = np.zeros(b)
    s = np.ones(b)
    for _ in range(iters):
        eta = a[:, None] + s[:, None] * lp
        mu = 1.0 / (1.0 + np.exp(-eta))
        v = w * mu * (1 - mu)
        r = w * (y - mu)
        g0 = r.sum(axis=1)
        h00 = v.sum(axis=1) + _EPS
        if free_slope:
            g1 = r @ lp
            h01 = v @ lp
            h11 = v @ (lp * lp) + _EPS
            det = h00 * h11 - h01 * h01
            det = np.where(np.abs(det) < _EPS, _EPS, det)
            da = (h11 * g0 - h01 * g1) / det
            ds = (h00 * g1 - h01 * g0) / det
            a = a + np.clip(da, -5, 5)
            s = s + np.clip(ds, -5, 5)
            step = np.abs(da) + np.abs(ds)
        else:
            da = g0 / h00
            a = a + np.clip(da, -5, 5)
            step = np.abs(da)
        if not np.any(step > 1e-10):  # NaN rows (empty resamples) do not hold the loop
            break
    return np.stack([a, s], axis=1)


def calibration_intercept(y, p, w):
    return _calibration_fit(y, p, w, free_slope=False)[:, 0]


def calibration_slope(y, p, w):
    return _calibration_fit(y, p, w, free_slope=True)[:, 1]


# --- multiclass (y in {0..K-1}, p = (n, K) probabilities) ---------------------------------

def auc_ovr(y, p, w):
    k = p.shape[1]
    return np.mean([auc((y == c).astype(float), p[:, c], w) for c in range(k)], axis=0)


def balanced_accuracy_mc(y, p, w):
    pred = p.argmax(axis=1)
    k = p.shape[1]
    recalls = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in range(k):
            m = (y == c).astype(float)
            recalls.append((w @ (m * (pred == c))) / (w @ m))
    return np.mean(recalls, axis=0)


def f1_macro(y, p, w):
    pred = p.argmax(axis=1)
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in range(p.shape[1]):
            tp = w @ ((pred == c) & (y == c)).astype(float)
            fp = w @ ((pred == c) & (y != c)).astype(float)
            fn = w @ ((pred != c) & (y == c)).astype(float)
            out.append(2 * tp / (2 * tp + fp + fn))
    return np.mean(out, axis=0)


def brier_mc(y, p, w):
    onehot = np.eye(p.shape[1])[y.astype(int)]
    return _wmean(w, ((p - onehot) ** 2).sum(axis=1))


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: Metrics per task kind, in report order.
REGRESSION_METRICS: dict[str, Metric] = {
    "mae": mae, "rmse": rmse, "r2": r2, "pearson_r": pearson, "spearman_r": spearman,
}
BINARY_METRICS: dict[str, Metric] = {
    "auc": auc, "auprc": auprc, "balanced_accuracy": balanced_accuracy, "f1": f1,
    "brier": brier, "calibration_slope": calibration_slope,
    "calibration_intercept": calibration_intercept,
}
MULTICLASS_METRICS: dict[str, Metric] = {
    "auc_ovr": auc_ovr, "balanced_accuracy": balanced_accuracy_mc, "f1_macro": f1_macro,
    "brier": brier_mc,
}
_BY_KIND = {"regression": REGRESSION_METRICS, "binary": BINARY_METRICS,
            "multiclass": MULTICLASS_METRICS}


def metric_names(kind: str) -> tuple[str, ...]:
    """Metric names reported for a task kind (``regression``, ``binary``, ``multiclass``)."""
    return tuple(_BY_KIND[kind])


#: Binary metrics of the hard decision ``p >= threshold``.
THRESHOLD_METRICS = frozenset({"balanced_accuracy", "f1"})


def evaluate(kind: str, y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
             threshold: float | np.ndarray = 0.5) -> np.ndarray:
    """All metrics of ``kind`` for each weight row.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    y : (n,) float
        Observed outcome (class index for classification).
    p : (n,) float or (n, K) float
        Prediction: value, probability of class 1, or class probabilities.
    w : (B, n) float, optional
        Row weights per resample; default one unweighted evaluation.
    threshold : float or (n,) float
        Binary decision threshold of each row (the fold's Youden threshold in
        :func:`lusfeat.stats.analyze`), for balanced accuracy and F1.

    Returns
    -------
    (M, B) float
        Metric ``m`` of resample ``b``, metrics in :func:`metric_names` order.
    """
    if w is None:
        w = np.ones((1, y.shape[0]))
    if kind == "binary":
        return np.stack([f(y, p, w, threshold) if name in THRESHOLD_METRICS else f(y, p, w)
                         for name, f in BINARY_METRICS.items()])
    return np.stack([f(y, p, w) for f in _BY_KIND[kind].values()])
