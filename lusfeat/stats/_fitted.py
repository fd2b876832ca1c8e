"""Fitted models: one small class per kind of estimator, each keeping its results object.

A model family (:mod:`lusfeat.stats._models`, :mod:`lusfeat.stats._xgboost`)
fits on training rows and returns one of these. Each keeps what it was fitted
as, so nothing is thrown away: the statsmodels results (``OLSResults``,
``MixedLMResults``, ``LogitResults``), the scikit-learn estimator or the
XGBoost booster, as :attr:`FittedModel.results`. Prediction is a method of the
class, not a branch on a method string.
"""

from __future__ import annotations

import abc
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._summary import ModelSummary

__all__ = ["FittedModel", "LinearFit", "LogitFit", "EstimatorFit", "XGBoostFit", "Preprocessing",
           "youden_threshold"]


def youden_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """Decision threshold maximising Youden's J = sensitivity + specificity - 1.

    Parameters
    ----------
    y : (n,) {0, 1}
        Outcome of the training rows.
    score : (n,) float
        Scores of the same rows (higher = more likely class 1).

    Returns
    -------
    float
        Rows with ``score >= threshold`` are called positive. The threshold is
        the midpoint between the cut's score and the next lower score (the
        centre of the tied optimal cuts when several maximise J); 0.5 when a
        class is missing.

    Examples
    --------
    >>> youden_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.225
    """
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(score)
    y, score = y[ok], score[ok]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    u = np.unique(score)  # candidate cuts: positive when score >= u[k]
    order = np.searchsorted(u, score)
    pos_at = np.bincount(order[y], minlength=u.size)
    neg_at = np.bincount(order[~y], minlength=u.size)
    tpr = pos_at[::-1].cumsum()[::-1] / n_pos
    fpr = neg_at[::-1].cumsum()[::-1] / n_neg
    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - 1e-12)
    k = int(best[(best.size - 1) // 2])
    return float(u[k] if k == 0 else 0.5 * (u[k] + u[k - 1]))



@dataclass
class Preprocessing:
    """Training-fold preprocessing: column selection, median imputation, scaling."""

    keep: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Preprocessing:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            med = np.nanmedian(x, axis=0)
        xi = np.where(np.isnan(x), med, x)
        sd = xi.std(axis=0)
        keep = np.isfinite(med) & (sd > 1e-12 * np.maximum(1.0, np.abs(xi).max(axis=0, initial=0)))
        return cls(keep=keep, median=med[keep], mean=xi[:, keep].mean(axis=0), sd=sd[keep])

    def impute(self, x: np.ndarray) -> np.ndarray:
        x = x[:, self.keep]
        return np.where(np.isnan(x), self.median, x)

    def scale(self, x: np.ndarray) -> np.ndarray:
        return (self.impute(x) - self.mean) / self.sd


@dataclass
class FittedModel(abc.ABC):
    """A model fitted on one training set (base of the concrete fits below).

    Attributes
    ----------
    model : str
        Family: ``"linear"``, ``"penalized"`` or ``"xgboost"``.
    method : str
        Concrete estimator (``ols-cluster``, ``mixedlm``, ``logit``, ``logit-l2``,
        ``multinomial-l2``, ``ridge``, ``xgboost``).
    kind : str
        Task kind the model was fitted for.
    names : list of str
        Feature names of the training matrix.
    columns : (k,) int
        Columns of the (preprocessed) matrix the model uses.
    results : object
        What the fit returned: statsmodels results, a scikit-learn estimator or
        the booster.
    info : list of (str, object)
        Header pairs of the summary.
    table : pandas.DataFrame
        Coefficients, odds ratios or importances.
    notes : list of str
        Caveats, including every warning the fit raised (``warning: ...``).
    threshold : float
        Binary decision threshold on the predicted probability (Youden J on the
        training rows); NaN for other kinds.
    """

    model: str
    method: str
    kind: str
    names: list[str]
    columns: np.ndarray
    results: Any
    info: list[tuple[str, object]] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    threshold: float = float("nan")

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict ``(n,)`` values/probabilities of class 1, or ``(n, K)`` probabilities."""

    def summary(self, title: str = "") -> ModelSummary:
        """Coefficient (or importance) table with header pairs and caveats."""
        return ModelSummary(
            title=title or f"{self.method} ({self.kind})", info=list(self.info),
            table=self.table.copy(), notes=list(self.notes),
        )


@dataclass
class LinearFit(FittedModel):
    """OLS or MixedLM on standardised features: ``intercept + x @ slopes`` (fixed effects)."""

    prep: Preprocessing | None = None
    params: np.ndarray = field(default_factory=lambda: np.zeros(1))

    def predict(self, x: np.ndarray) -> np.ndarray:
        xs = self.prep.scale(x)[:, self.columns]
        return self.params[0] + xs @ self.params[1:]


@dataclass
class LogitFit(LinearFit):
    """Logistic regression (statsmodels Logit): the probability of class 1."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-LinearFit.predict(self, x)))


@dataclass
class EstimatorFit(FittedModel):
    """A scikit-learn estimator on standardised features (ridge, penalised logistic)."""

    prep: Preprocessing | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        xs = self.prep.scale(x)[:, self.columns]
        if self.kind == "regression":
            return self.results.predict(xs).astype(np.float64)
        proba = self.results.predict_proba(xs)
        return proba[:, 1] if self.kind == "binary" else proba


@dataclass
class XGBoostFit(FittedModel):
    """A booster with its tree count, on the raw columns (NaN handled natively)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.results.predict(x[:, self.columns])
