"""The confidence-strategy study: sweep orchestration with a content-addressed stage cache.

``lusfeat sweep COHORT --out STUDY`` runs, for each label strategy (and seed):
cross-fitted training -> out-of-fold masks -> segmentation evaluation ->
features -> the three downstream tasks, plus reference pipelines computed
straight from the annotators' fused labels at each threshold and, for
simulated cohorts, from the true masks. Paired comparisons test every
pipeline against ``threshold-50`` and against the best strategy.

Study folder layout::

    STUDY/
      study.json                 plan, options, versions, hardware, per-stage status,
                                 cache keys and timings (seconds), best strategy
      runs/<pipeline>/           training runs (lusfeat.seg.train)
      masks/<pipeline>/          out-of-fold mask sets (lusfeat.seg.segment); for simulated
                                 cohorts also the fused labels labels-<T> as mask sets
      evaluation/<pipeline>/     segmentation metrics (lusfeat.seg.evaluate):
                                 frames.parquet, summary.parquet, calibration.parquet;
                                 labels-<T> are evaluated too when the cohort has truth
      features/<pipeline>/       feature tables (lusfeat.features.extract), also for the
                                 references labels-<T> and truth
      analysis/vs-<reference>/   downstream analysis (lusfeat.stats.analyze) with every
                                 pipeline compared with <reference>
      tables/segmentation.parquet  evaluation summaries of all evaluated pipelines
                                   (pipeline, strategy, seed, pipeline_kind, reference,
                                   class, metric, estimate, ci_low, ci_high)
      tables/downstream.parquet    analysis results of all comparisons (the stats
                                   result columns plus ``analysis``)
      tables/seeds.parquet         spread over seeds: strategy, table, task/reference,
                                   class/model, metric, n_seeds, mean, sd, min, max
      .stages/<stage>.json       cache markers: key, seconds, finished time

Pipeline names: a strategy's folder name (``threshold-60``, ``soft``,
``weighted-60``, ``ignore-40-60``) with ``-s<seed>`` appended when more than
one seed runs; references are ``labels-<T>`` and ``truth``.
"""

from ._cache import StageCache, code_version
from ._sweep import StudyPlan, SweepConfig, plan_sweep, run_sweep

__all__ = ["StageCache", "SweepConfig", "StudyPlan", "code_version", "plan_sweep", "run_sweep"]
