"""lusfeat: confidence-aware lung ultrasound segmentation, features and clinical analysis.

The public API a statistician needs::

    import lusfeat
    cohort = lusfeat.open_cohort("study/cohort")
    exams = lusfeat.read_features("study/features/threshold-60", level="exam")
    table = exams.merge(cohort.clinical, on="exam_id")

Where things live (one home for each idea)
-------------------------------------------
* Options of the stages (default, help text, one-line checks):
  :mod:`lusfeat._config` (``TrainConfig``, ``FeatureConfig``, ``AnalysisConfig``);
  the commands' options and the sweep's ``SweepConfig`` are built from them.
* Mask sources (``truth``, ``labels:T@fusion``, a mask folder) and label
  strategies, parsed once at the boundary: :mod:`lusfeat._masks`,
  :mod:`lusfeat.labels`; fused-label masks: :func:`lusfeat.labels.fused_masks`.
* Results: :class:`lusfeat._summary.Summary` (text, HTML, DataFrames); the
  report renders the same objects.
* Patient-bootstrap weights: :mod:`lusfeat._resample`; the array module of an
  array: :mod:`lusfeat._arrays`; the version: :mod:`lusfeat._version`.
* The feature dictionary (columns, dtypes, statistics, tolerances):
  :data:`lusfeat.features.DICTIONARY`; the one CUDA kernel source:
  :mod:`lusfeat.features._cuda_kernels`.
* Test-only code (parity rules, kernel twin, synthetic inputs, table
  comparison): :mod:`lusfeat.testing`.
"""

from __future__ import annotations

from ._errors import CohortError, InputError, LusfeatError, ValidationError
from ._version import __version__
from .data import CLASS_NAMES, open_cohort


def read_features(path, level: str = "exam", form: str | None = None):
    """Read a feature table written by ``lusfeat features``.

    Parameters
    ----------
    path : path-like
        Features folder.
    level : {"component", "frame", "clip", "zone", "exam", "patient"}
    form : {"wide", "long"}, optional
        Default: wide for ``exam`` and ``component``, long otherwise.

    See Also
    --------
    lusfeat.features.read_features
    """
    from .features import read_features as _read

    return _read(path, level=level, form=form)


__all__ = [
    "__version__",
    "CLASS_NAMES",
    "CohortError",
    "InputError",
    "LusfeatError",
    "ValidationError",
    "open_cohort",
    "read_features",
]
