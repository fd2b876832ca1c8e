"""Downstream clinical analysis: S/F, S/F change and readmission with honest statistics.

Patient-grouped repeated cross-validation, patient-level bootstrap CIs
(percentile and BCa), a comparison plan fixed before fitting (primary metric
per task; confirmatory family Holm-adjusted, exploratory family BH-adjusted),
three model families (statsmodels GLM/OLS or MixedLM, ridge-penalised models,
XGBoost, all tuned by patient-grouped inner CV where they have
hyperparameters), DeLong's test for correlated AUCs and Obuchowski's clustered
DeLong for rows that are not independent, and power by simulation.

Where things live
-----------------
* Patient-bootstrap weights (draws -> patient counts -> row weights):
  :mod:`lusfeat._resample`, shared with segmentation evaluation.
* The clinical model (severity, S/F through oxygen titration, readmission):
  :mod:`lusfeat.data._sim_clinical`; the synthetic study of the tests
  (:mod:`lusfeat.testing._synthetic`) draws its clinical table from it.
* Fitted models and prediction: :mod:`._fitted` (one class per estimator, each
  keeping its statsmodels/scikit-learn/XGBoost results); the families that fit
  them: :mod:`._models`, :mod:`._xgboost`.
* Model summaries: :class:`ModelSummary` (:mod:`._summary`); the analysis
  result and its folder: :mod:`._result`; plots: :mod:`._plots`.
* The comparison plan: :mod:`._plan`; the tasks: :mod:`._tasks`.
* Options of :func:`analyze` (defaults, help, checks) and the ones ``power`` and
  the sweep share: :class:`AnalysisConfig` in :mod:`lusfeat._config`, from which
  the ``analyze``, ``power`` and ``sweep`` commands build their options.
"""

from .._config import AnalysisConfig
from ._analyze import analyze
from ._bootstrap import BootstrapResult, bootstrap_p_value, cluster_bootstrap
from ._cv import repeated_group_kfold
from ._delong import (
    DelongResult,
    clustered_delong_covariance,
    clustered_delong_test,
    delong_covariance,
    delong_test,
)
from ._metrics import evaluate, metric_names
from ._models import MODELS, FittedModel, fit_model, youden_threshold
from ._plan import PRIMARY_METRICS, ComparisonPlan, make_plan
from ._power import PowerPool, PowerResult, power, simulate_pool
from ._result import RESULT_COLUMNS, AnalysisResult
from ._summary import ModelSummary
from ._tasks import CHANGE_MARGIN, TASKS, TaskData, TaskSkipped, build_task

__all__ = [
    "analyze",
    "AnalysisConfig",
    "power",
    "simulate_pool",
    "PowerPool",
    "PowerResult",
    "AnalysisResult",
    "RESULT_COLUMNS",
    "TASKS",
    "MODELS",
    "CHANGE_MARGIN",
    "TaskData",
    "TaskSkipped",
    "build_task",
    "fit_model",
    "youden_threshold",
    "PRIMARY_METRICS",
    "ComparisonPlan",
    "make_plan",
    "FittedModel",
    "ModelSummary",
    "repeated_group_kfold",
    "cluster_bootstrap",
    "bootstrap_p_value",
    "BootstrapResult",
    "delong_covariance",
    "delong_test",
    "DelongResult",
    "clustered_delong_covariance",
    "clustered_delong_test",
    "evaluate",
    "metric_names",
]
