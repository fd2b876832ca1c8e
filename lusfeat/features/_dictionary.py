"""The feature dictionary: one registry that code, tests, docs and the CLI read.

Every column lusfeat writes at component or frame level is one
:class:`Feature`; aggregated columns (clip, zone, exam, patient) derive their
names from it (``<feature>_<aggregate>``). ``lusfeat features --describe``
prints :data:`DICTIONARY`; ``lusfeat features`` writes it beside the tables as
``dictionary.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data._format import CLASS_NAMES

__all__ = ["Feature", "FeatureDictionary", "DICTIONARY", "LUS_PARAMETERS"]

_SKIMAGE = "scikit-image 0.26 skimage.measure.regionprops"
_HOWELL = "Howell et al. 2024, LUS-Segmentation-RT (BLAS)"
_LUS = "lusfeat definition (see lusfeat.features package docs)"

#: Fixed lengths used by the frame-level definitions. Lengths in mm are turned
#: into pixels per frame as ``max(1, round(mm / spacing))``; frames without a
#: known spacing use the pixel default.
LUS_PARAMETERS: dict[str, dict[str, float]] = {
    "band": {"mm": 5.0, "px_default": 10},
    "reference_depth": {"mm": 10.0, "px_default": 20},
    "break_length": {"mm": 2.0, "px_default": 4},
    "neighbour_width": {"mm": 2.0, "px_default": 5},
}


@dataclass(frozen=True)
class Feature:
    """One entry of the feature dictionary.

    Attributes
    ----------
    name : str
        Column name (``b_line_count``); component features carry no class prefix.
    cls : str
        Class name (one of ``CLASS_NAMES``), ``"any"`` for per-component
        properties of every class, or ``"lus"`` for LUS-score columns.
    level : str
        ``"component"`` or ``"frame"``.
    unit : str
        ``"px"``/``"px^2"`` (components), ``"mm|px"``/``"mm^2|px^2"`` (frames:
        mm when the frame's pixel spacing is known, else pixels), ``"1"``
        (counts, fractions, ratios), ``"rad"`` or ``"intensity"`` (0-255).
    definition : str
        What is computed.
    nan : str
        When the value is NaN (``"never"`` if it is always defined).
    reference : str
        Where the definition comes from.
    finding : bool
        The feature marks a finding when > 0 (aggregation adds ``frac``).
    additive : bool
        Summing over zones is meaningful (aggregation adds ``sum``).
    dtype : {"int64", "float64"}
        Column dtype of the component table (frame features are float64).
    needs : tuple of str
        Raw statistics it is computed from: fields of
        :data:`~lusfeat.features._layout.COMPONENT_STATS` (component features)
        or of :data:`~lusfeat.features._layout.FRAME_STATS`, ``pix`` (per-class
        pixel counts) and component features (frame features).
    rtol, atol : float
        Parity tolerance of a fast backend against the reference
        (``|got - ref| <= atol + rtol |ref|``; 0 and 0 mean exact).
    """

    name: str
    cls: str
    level: str
    unit: str
    definition: str
    nan: str = "never"
    reference: str = _LUS
    finding: bool = False
    additive: bool = False
    dtype: str = "float64"
    needs: tuple[str, ...] = ()
    rtol: float = 1e-9
    atol: float = 1e-9

    @property
    def exact(self) -> bool:
        """Whether backends must agree exactly (integer columns)."""
        return self.rtol == 0 and self.atol == 0


#: Columns of ``dictionary.csv`` and of :meth:`FeatureDictionary.to_frame`.
TABLE_COLUMNS = ("name", "cls", "level", "unit", "definition", "nan", "reference", "finding", "additive")


_MOMENTS = ("area", "sum_r", "sum_c", "sum_rr", "sum_cc", "sum_rc")


def _c(name: str, unit: str, definition: str, needs: tuple[str, ...], nan: str = "never", *,
       dtype: str = "float64", atol: float = 1e-12) -> Feature:
    exact = dtype == "int64"
    return Feature(name, "any", "component", unit, definition, nan, _SKIMAGE, dtype=dtype, needs=needs,
                   rtol=0.0 if exact else 1e-9, atol=0.0 if exact else atol)


def _ci(name: str, unit: str, definition: str, needs: tuple[str, ...]) -> Feature:
    return _c(name, unit, definition, needs, dtype="int64")


#: Features from the square root of a possibly-zero eigenvalue get an absolute tolerance of 1e-6.
_SQRT_ATOL = 1e-6

COMPONENT_FEATURES: tuple[Feature, ...] = (
    _ci("label", "1", "label of the 8-connected component, 1.. in raster order of its first pixel",
        ("label",)),
    _ci("area", "px^2", "number of pixels", ("area",)),
    _ci("bbox_min_row", "px", "first row of the bounding box", ("min_r",)),
    _ci("bbox_min_col", "px", "first column of the bounding box", ("min_c",)),
    _ci("bbox_max_row", "px", "last row + 1 of the bounding box", ("max_r",)),
    _ci("bbox_max_col", "px", "last column + 1 of the bounding box", ("max_c",)),
    _c("centroid_row", "px", "mean row of the pixels", ("area", "sum_r")),
    _c("centroid_col", "px", "mean column of the pixels", ("area", "sum_c")),
    _c("perimeter", "px", "regionprops perimeter (4-neighbourhood border, weighted codes)",
       ("n_p1", "n_p2", "n_p3")),
    _c("eccentricity", "1", "sqrt(1 - l2/l1) of the inertia tensor eigenvalues (0 if l1 == 0)", _MOMENTS,
       atol=_SQRT_ATOL),
    _c("orientation", "rad", "angle between the row axis and the major axis, in [-pi/2, pi/2]",
       _MOMENTS, atol=1e-9),  # compared modulo pi; undefined (skipped) for isotropic tensors
    _ci("area_convex", "px^2", "pixels of the convex hull image (hull of pixel-edge midpoints)",
        ("area_convex",)),
    _c("solidity", "1", "area / area_convex", ("area", "area_convex")),
    _c("axis_major_length", "px", "4 sqrt(l1)", _MOMENTS, atol=_SQRT_ATOL),
    _c("axis_minor_length", "px", "4 sqrt(l2)", _MOMENTS, atol=_SQRT_ATOL),
    _c("perimeter_convex", "px", "length of the convex hull polygon (pixel-edge midpoints)", ()),
    _c("intensity_mean", "intensity", "mean image intensity over the pixels", ("area", "sum_i"),
       "no images were given"),
)


def _f(cls: str, name: str, unit: str, definition: str, nan: str = "never", *,
       finding: bool = False, additive: bool = False, reference: str = _LUS,
       needs: tuple[str, ...] = ()) -> Feature:
    full = f"{cls}_{name}" if cls != "lus" else f"lus_{name}"
    return Feature(full, cls, "frame", unit, definition, nan, reference, finding, additive, needs=needs)


_GENERIC: list[Feature] = []
for _cls in CLASS_NAMES:
    _GENERIC.append(_f(_cls, "count", "1", "number of 8-connected components",
                       finding=True, additive=True, needs=("label",)))
    _GENERIC.append(_f(_cls, "area", "mm^2|px^2", "total mask area", finding=True, additive=True,
                       needs=("pix",)))

_NOPL = "the frame has no pleural-line pixels"
FRAME_FEATURES: tuple[Feature, ...] = tuple(_GENERIC) + (
    _f("pleural_line", "coverage", "1", "fraction of image columns holding pleural-line pixels", needs=('ncov',)),
    _f("pleural_line", "depth", "mm|px",
       "mean over covered columns of the upper-edge row (distance from the top)", _NOPL, needs=('ncov', 'sum_top')),
    _f("pleural_line", "breaks", "1",
       "gaps between the first and last covered column at least break_length wide",
       finding=True, additive=True, needs=('breaks',)),
    _f("pleural_line", "thickness_mean", "mm|px", "mean pleural pixels per covered column", _NOPL, needs=('ncov', 'thick_mean')),
    _f("pleural_line", "thickness_sd", "mm|px", "population SD of pleural pixels per covered column", _NOPL, needs=('ncov', 'thick_sd')),
    _f("pleural_line", "roughness", "mm|px",
       "population SD of the upper edge's residual from a least-squares quadratic in the column",
       "fewer than 3 covered columns", needs=('ncov', 'rough')),
    _f("pleural_line", "intensity", "intensity", "mean image intensity over pleural pixels",
       "no images, or " + _NOPL, needs=('ncov', 'pix', 'p_isum')),
    _f("a_line", "spacing_ratio", "1",
       "((max A-line centroid row - mean pleural row) / A-line count) / mean pleural row: mean "
       "spacing of the A-line ladder relative to the pleural depth",
       "no A-lines, no pleura, or pleural depth 0", needs=('ncov', 'pix', 'p_rowsum', 'centroid_row')),
    _f("b_line", "count_band", "1",
       "B-line components reaching the band [r_p, r_p + band) below the pleura "
       "(bbox_min_row < r_p + band; r_p = last pleural row + 1, 0 without pleura)",
       finding=True, additive=True, needs=('r_p', 'bbox_min_row')),
    _f("b_line", "width_ref", "mm|px", "B-line pixels in row r_p + reference_depth (clipped to the image)",
       finding=True, additive=True, needs=('b_ref',)),
    _f("b_line", "pleural_fraction", "1",
       "fraction of the pleural columns (all columns without pleura) with B-line at the reference row",
       finding=True, needs=('b_ref_pc', 'wp')),
    _f("b_line", "confluent", "1", "confluent-B-line equivalent count: 10 x pleural_fraction",
       finding=True, additive=True, needs=('b_ref_pc', 'wp')),
    _f("b_line", "blas", "1",
       "B-line pixels below r_p in the pleural columns / (pleural columns x rows below r_p)",
       finding=True, reference=_HOWELL, needs=('r_p', 'b_below_pc', 'wp')),
    _f("b_line", "intensity_ratio", "1",
       "mean intensity of B-line pixels below r_p / mean intensity below r_p in columns without "
       "B-line within neighbour_width of a B-line column",
       "no images, no B-line below the pleura, no neighbour column, or zero neighbour mean", needs=('b_below', 'b_isum', 'n_isum', 'n_count')),
    _f("consolidation", "area_max", "mm^2|px^2", "area of the largest component", additive=False,
       finding=True, needs=('area',)),
    _f("consolidation", "depth_max", "mm|px",
       "max over components of max(0, bbox_max_row - r_p)", "no consolidation", needs=('r_p', 'bbox_max_row')),
    _f("consolidation", "depth_mean", "mm|px",
       "mean over components of max(0, bbox_max_row - r_p)", "no consolidation", needs=('r_p', 'bbox_max_row')),
    _f("consolidation", "irregularity", "1", "mean over components of perimeter / perimeter_convex",
       "no consolidation", needs=('perimeter', 'perimeter_convex')),
    _f("consolidation", "solidity", "1", "mean over components of solidity", "no consolidation", needs=('solidity',)),
    _f("effusion", "thickness_max", "mm|px", "largest number of effusion pixels in one column",
       finding=True, needs=('e_thick',)),
    _f("lus", "score", "1",
       "LUS score approximation 0-3: 3 consolidation, 2 b_line_pleural_fraction >= 0.3, "
       "1 b_line_count_band >= 3, else 0", finding=True, additive=True, needs=('label', 'b_ref_pc', 'wp', 'r_p', 'bbox_min_row')),
)


#: Key columns of the component table (not features; integers).
_KEYS = ("frame", "class_index", "plane")


class FeatureDictionary(tuple):
    """The registry: a tuple of :class:`Feature` that also renders as a table.

    Examples
    --------
    >>> from lusfeat.features import DICTIONARY
    >>> DICTIONARY["b_line_blas"].unit
    '1'
    """

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            for feat in self:
                if feat.name == key:
                    return feat
            raise KeyError(f"no feature named {key!r}; see lusfeat features --describe")
        return tuple.__getitem__(self, key)

    def names(self, level: str) -> list[str]:
        """Feature names of one level (``"component"`` or ``"frame"``)."""
        return [f.name for f in self if f.level == level]

    def dtype(self, name: str) -> str:
        """Column dtype of ``name``; the table keys ``frame``, ``class_index`` and ``plane`` are int64."""
        return "int64" if name in _KEYS else self[name].dtype

    def to_frame(self) -> pd.DataFrame:
        """The dictionary as a DataFrame, one row per feature (the ``dictionary.csv`` columns)."""
        return pd.DataFrame([{k: getattr(f, k) for k in TABLE_COLUMNS} for f in self],
                            columns=list(TABLE_COLUMNS))

    def to_text(self) -> str:
        """Plain-text table (name, class, level, unit, NaN when, definition)."""
        df = self.to_frame()[["name", "cls", "level", "unit", "nan", "definition"]]
        return df.to_string(index=False, max_colwidth=90)

    def __str__(self) -> str:
        return self.to_text()


#: The feature registry (component and frame level).
DICTIONARY = FeatureDictionary(COMPONENT_FEATURES + FRAME_FEATURES)
