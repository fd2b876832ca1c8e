"""The two raw records every fast path fills: component statistics and frame statistics.

Both are defined here once, as a tuple of field names, and turned once into a
name -> index table (a named tuple, so numba reads ``STAT.min_r`` as a
compile-time constant and the CUDA source receives the same indices as
``#define`` lines from :func:`cuda_defines`). Nothing else spells a column
position.

``COMPONENT_STATS``
    one int64 row per component, filled by :func:`._runs.plane_stats` (numba)
    and the CUDA kernel (:mod:`._cuda_kernels`); turned into component
    properties by :func:`._props.component_columns`.
``FRAME_STATS``
    one float64 row per frame, filled by :func:`._profiles.pixel_stats_numba`
    (numba) and :func:`._lus.pixel_stats` (NumPy or CuPy arrays); turned into
    frame features by :func:`._lus.finish`. The per-class pixel counts
    ``pix`` ((N, 5)) travel beside it.
"""

from __future__ import annotations

from collections import namedtuple

__all__ = ["COMPONENT_STATS", "FRAME_STATS", "STAT", "FRAME", "cuda_defines"]

#: Integer statistics of one component (int64 columns, in this order).
COMPONENT_STATS: tuple[str, ...] = (
    "plane",        # frame * n_classes + class index
    "label",        # 1.. in raster order of the first pixel
    "area",         # pixels
    "sum_r", "sum_c", "sum_rr", "sum_cc", "sum_rc",  # raw moments (rows, cols)
    "min_r", "min_c", "max_r", "max_c",  # inclusive bounding box
    "sum_i",        # intensity sum (0 without images)
    "n_p1", "n_p2", "n_p3",  # border pixels of perimeter weight 1, sqrt 2, (1 + sqrt 2) / 2
    "area_convex",  # integer points in the convex hull of pixel-edge midpoints
)

#: Raw statistics of one frame (float64 columns, in this order); see :mod:`._lus`.
FRAME_STATS: tuple[str, ...] = (
    "ncov",         # columns holding pleural-line pixels
    "r_p",          # first row below the pleura (0 without pleura)
    "sum_top",      # sum over covered columns of the first pleural row
    "thick_mean",   # mean pleural pixels per covered column
    "thick_sd",     # population SD of pleural pixels per covered column
    "breaks",       # gaps >= break_length between covered columns
    "rough",        # SD of the upper edge's residual from a quadratic (NaN below 3 columns)
    "p_isum",       # intensity sum over pleural pixels (NaN without images)
    "p_rowsum",     # sum of the rows of pleural pixels
    "b_ref",        # B-line pixels in the reference row
    "b_ref_pc",     # ... of them in pleural columns
    "wp",           # pleural columns (all columns without pleura)
    "b_below_pc",   # B-line pixels below r_p in pleural columns
    "b_below",      # B-line pixels below r_p
    "b_isum",       # intensity sum of B-line pixels below r_p (NaN without images)
    "n_isum",       # intensity sum below r_p in neighbour columns (NaN without images)
    "n_count",      # pixels below r_p in neighbour columns (NaN without images)
    "e_thick",      # largest effusion pixels in one column
)

#: Column index of each component statistic (``STAT.min_r == 8``).
STAT = namedtuple("ComponentStat", COMPONENT_STATS)(*range(len(COMPONENT_STATS)))
#: Column index of each frame statistic (``FRAME.n_isum == 15``).
FRAME = namedtuple("FrameStat", FRAME_STATS)(*range(len(FRAME_STATS)))


def cuda_defines() -> tuple[str, ...]:
    """Compiler ``-D`` options giving the CUDA source the component-row layout.

    Returns
    -------
    tuple of str
        ``-DNF=17`` (columns per row) and ``-DF_<FIELD>=<index>`` for every
        field of :data:`COMPONENT_STATS` (``-DF_MIN_R=8``).
    """
    fields = tuple(f"-DF_{name.upper()}={i}" for i, name in enumerate(COMPONENT_STATS))
    return (f"-DNF={len(COMPONENT_STATS)}",) + fields
