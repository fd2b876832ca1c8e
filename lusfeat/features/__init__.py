"""Morphology features of lung ultrasound masks: dictionary, backends, tables.

Interpretable findings (B-line count and coverage, consolidation size and
depth, pleural-line breaks and roughness, A-line ladder, effusion thickness)
computed from masks of any source (truth, thresholded labels, predictions).

Backends
--------
``reference``
    scikit-image, frame by frame and component by component: the
    specification of every number (:mod:`._reference`).
``cpu``
    batched row-run labelling with exact integer moments (numba,
    :mod:`._runs`) and whole-batch NumPy frame features (:mod:`._lus`).
``cuda``
    CuPy kernels, one block per frame-class plane (:mod:`._cuda_kernels`);
    the CPU twin of the kernel algorithm is :mod:`._runs`.
``auto``
    ``cuda`` when CuPy sees a GPU, else ``cpu``.

Units: component features are in pixels (scikit-image definitions). Frame
features are in mm / mm^2 where the frame's ``pixel_spacing_mm`` is known,
else in pixels; ``features.json`` says which. NaN marks values that are
undefined (see the ``nan`` column of :data:`DICTIONARY`).

Output folder written by :func:`extract` (``lusfeat features``)::

    OUT/
      features.json        what made it: masks source, backend, cohort fingerprint,
                           versions, units, parameters, timings (compute, tables), frames/s,
                           the most frames held at once while aggregating, and with a
                           scheduler its parts and peak memory per worker
      dictionary.csv       the feature dictionary
      components.parquet   one row per component (frame ids + component features)
      frame_wide.parquet   one row per frame (frame ids + frame features)
      frame.parquet        long: frame ids, feature, value
      clip.parquet         long: patient_id, exam_id, zone, clip_id, feature, aggregate, value
      zone.parquet         long: patient_id, exam_id, zone, feature, aggregate, value
      exam.parquet         long: patient_id, exam_id, feature, aggregate, value
      exam_wide.parquet    one row per exam: exam_id, patient_id, <feature>_<aggregate>
      patient.parquet      long: patient_id, first/last exam, n_exams, feature, aggregate, value

Aggregation rules are in :mod:`._aggregate`.

Where things live
-----------------
Each idea has one home; everything else reads it.

* What a feature is (name, unit, definition, dtype, the raw statistics it
  needs, its parity tolerance): :data:`DICTIONARY` in :mod:`._dictionary`.
  Output columns, integer casts, ``dictionary.csv``, ``--describe``, the
  parity check and the tests read it.
* The raw records the fast paths fill (component statistics, frame
  statistics): :mod:`._layout`, as field names with one name -> index table,
  shared by numba (:mod:`._runs`, :mod:`._profiles`), the array path
  (:mod:`._lus`) and the CUDA source (``-D`` defines).
* The specification of every number: :mod:`._reference` (scikit-image).
* Component labelling: :func:`._runs.plane_stats` (numba) and its GPU twin, the
  one CUDA source :data:`._cuda_kernels.KERNEL_SOURCE`, compiled with
  :func:`._cuda_kernels.compile_options` and sized by
  :func:`._cuda_kernels.launch_plan` (the CPU emulator of the tests uses the
  same three).
* Component properties from the integer statistics: :mod:`._props`; frame
  features from the frame statistics: :func:`._lus.finish`.
* Options of :func:`extract` (backend, batch): :class:`lusfeat.FeatureConfig`
  in :mod:`lusfeat._config`, the one home of every stage's options.
* Class names: :data:`lusfeat.CLASS_NAMES`; the array module of an array:
  :func:`lusfeat._arrays.array_module`.
* Test-only code (parity rules, the kernel's Python twin, random masks):
  :mod:`lusfeat.testing`.
"""

from .._config import FeatureConfig
from ._aggregate import aggregate_levels
from ._compute import Backend, available_backends, compute, compute_components
from ._dictionary import DICTIONARY, LUS_PARAMETERS, Feature, FeatureDictionary
from ._extract import FeatureSet, extract, open_features, read_features

__all__ = [
    "Backend",
    "DICTIONARY",
    "Feature",
    "FeatureConfig",
    "FeatureDictionary",
    "FeatureSet",
    "LUS_PARAMETERS",
    "aggregate_levels",
    "available_backends",
    "compute",
    "compute_components",
    "extract",
    "open_features",
    "read_features",
]
