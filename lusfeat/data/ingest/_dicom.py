"""DICOM reading with de-identification: pixels, pixel spacing and an allow-list of tags.

De-identification works by allow-list: only the technical tags in :data:`DICOM_COPIED_TAGS`
are copied into the cohort. The patient-identifying tags in
:data:`DICOM_IDENTIFYING_TAGS` are never copied unless ``deidentify=False``. Source files
are opened read-only and never modified.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DICOM_COPIED_TAGS", "DICOM_IDENTIFYING_TAGS", "read_dicom"]

logger = logging.getLogger(__name__)

#: Technical tags copied into the cohort metadata (nothing that identifies a person).
DICOM_COPIED_TAGS: tuple[str, ...] = (
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "TransducerType",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PhotometricInterpretation",
    "BitsStored",
    "FrameTime",
    "CineRate",
    "RecommendedDisplayFrameRate",
    "UltrasoundColorDataPresent",
    "BurnedInAnnotation",
    "TransferSyntaxUID",
)

#: Patient-identifying tags that de-identification never copies (DICOM PS3.15 basic profile subset).
DICOM_IDENTIFYING_TAGS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "EthnicGroup",
    "PatientComments",
    "MedicalRecordLocator",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "StationName",
    "DeviceSerialNumber",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "AcquisitionTime",
    "ContentTime",
    "AcquisitionDateTime",
    "StudyDescription",
    "SeriesDescription",
)


def _value(v: Any) -> Any:
    if isinstance(v, (int, float, str)):
        return v
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return [_value(x) for x in v]
    try:
        f = float(v)
        return int(f) if f.is_integer() and "." not in str(v) else f
    except (TypeError, ValueError):
        return str(v)


def _spacing(ds: Any) -> tuple[float, str, list[str]]:
    """Pixel spacing in mm from the ultrasound region calibration or PixelSpacing."""
    notes: list[str] = []
    regions = getattr(ds, "SequenceOfUltrasoundRegions", None)
    if regions:
        best = None
        for reg in regions:
            ux, uy = getattr(reg, "PhysicalUnitsXDirection", None), getattr(reg, "PhysicalUnitsYDirection", None)
            dx, dy = getattr(reg, "PhysicalDeltaX", None), getattr(reg, "PhysicalDeltaY", None)
            if ux != 3 or uy != 3 or dx is None or dy is None:  # 3 = centimetres
                continue
            x0, x1 = getattr(reg, "RegionLocationMinX0", 0), getattr(reg, "RegionLocationMaxX1", 0)
            y0, y1 = getattr(reg, "RegionLocationMinY0", 0), getattr(reg, "RegionLocationMaxY1", 0)
            area = (int(x1) - int(x0)) * (int(y1) - int(y0))
            if best is None or area > best[0]:
                best = (area, abs(float(dx)) * 10.0, abs(float(dy)) * 10.0)
        if best is not None:
            _, sx, sy = best
            if not math.isclose(sx, sy, rel_tol=0.02):
                notes.append(f"anisotropic calibration {sx:.4f} x {sy:.4f} mm; the mean is used")
            return (sx + sy) / 2, "dicom_ultrasound_region", notes
    ps = getattr(ds, "PixelSpacing", None)
    if ps is not None and len(ps) == 2:
        sy, sx = float(ps[0]), float(ps[1])
        return (sx + sy) / 2, "dicom_pixel_spacing", notes
    return float("nan"), "unknown", notes


def read_dicom(
    path: str | os.PathLike, *, deidentify: bool = True
) -> tuple[np.ndarray, float, str, dict[str, Any], list[str]]:
    """Read a single- or multi-frame DICOM file.

    Parameters
    ----------
    path : path-like
        The DICOM file (opened read-only).
    deidentify : bool
        Copy only :data:`DICOM_COPIED_TAGS` into the returned header (default). With
        ``False`` the tags of :data:`DICOM_IDENTIFYING_TAGS` present are copied too.

    Returns
    -------
    frames : (F, H, W) or (F, H, W, 3) uint8
        Pixel data, converted to 8 bits (MONOCHROME1 inverted, YBR converted to RGB).
    spacing_mm : float
        Pixel spacing in mm (NaN when the file has no calibration).
    spacing_source : str
        ``"dicom_ultrasound_region"``, ``"dicom_pixel_spacing"`` or ``"unknown"``.
    header : dict
        Copied tags (keyword -> JSON-able value).
    notes : list of str
        Conversions made.

    Raises
    ------
    ValueError, OSError
        When the file is not DICOM, has no pixel data or the pixel data is truncated
        (the caller turns these into problem messages).
    """
    import pydicom

    path = Path(path)
    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        raise ValueError("the file has no pixel data (PixelData tag missing)")
    arr = ds.pixel_array
    notes: list[str] = []
    nframes = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(getattr(ds, "SamplesPerPixel", 1))
    if nframes == 1:
        arr = arr[None]
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    if spp == 3 and photometric.startswith("YBR"):
        from pydicom.pixels import convert_color_space

        arr = convert_color_space(arr, photometric, "RGB")
        notes.append(f"converted {photometric} to RGB")
    if arr.dtype != np.uint8:
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        arr = np.clip(np.rint((arr.astype(np.float64) - lo) * scale), 0, 255).astype(np.uint8)
        notes.append(f"rescaled {ds.BitsStored}-bit pixel values {lo:g}..{hi:g} to 0..255")
    if photometric == "MONOCHROME1":
        arr = 255 - arr
        notes.append("inverted MONOCHROME1")
    spacing, source, spacing_notes = _spacing(ds)
    notes += spacing_notes
    header: dict[str, Any] = {}
    names = DICOM_COPIED_TAGS + (() if deidentify else DICOM_IDENTIFYING_TAGS)
    for name in names:
        if name == "TransferSyntaxUID":
            value = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        else:
            value = ds.get(name, None)
            value = None if value is None else getattr(value, "value", value)
        if value is not None and value != "":
            header[name] = _value(value)
    return np.ascontiguousarray(arr), spacing, source, header, notes
