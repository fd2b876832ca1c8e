"""Test-only code of lusfeat: twins, parity rules and synthetic inputs.

Nothing in the library imports this package; tests and benchmarks do (as
scikit-image keeps ``skimage._shared.testing``).

``_parity``
    :func:`parity_problems` / :func:`assert_parity`: two backends' outputs
    against the tolerances declared in :data:`lusfeat.features.DICTIONARY`.
``_cuda_twin``
    Python transcriptions of the CUDA kernel's bit-level steps.
``_masks``
    :func:`random_masks`, adversarial-enough class masks.
``_synthetic``
    ``synthetic_study``: exam feature tables with known signal over a clinical
    table drawn by the simulator's clinical model.
``_tables``
    :func:`compare_table_folders`: every Parquet table of two output folders
    compared exactly (timing columns left out), e.g. ``lusfeat demo`` before and
    after a refactoring (``benchmarks/compare_tables.py``).
"""

from ._masks import random_masks
from ._parity import assert_parity, parity_problems
from ._tables import TableDifference, compare_table_folders

__all__ = ["TableDifference", "assert_parity", "compare_table_folders", "parity_problems", "random_masks"]
