"""Small synthetic inputs for the ingest tests: frames, DICOM, video, manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def fan_frame(h: int = 120, w: int = 160, seed: int = 0, rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A convex-probe-like frame: textured fan on black, burned-in text and a colour mark.

    Returns the frame ``(H, W) or (H, W, 3) uint8`` and the true fan mask ``(H, W) bool``.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    ay, ax = -0.25 * h, w / 2
    r = np.hypot(yy - ay, xx - ax)
    ang = np.degrees(np.arctan2(xx - ax, yy - ay))
    fan = (np.abs(ang) <= 33) & (r >= 0.4 * h) & (r <= 1.2 * h)
    img = np.zeros((h, w), np.uint8)
    img[fan] = rng.integers(40, 200, fan.sum())
    # burned-in text: thin strokes in the top-left corner, outside the fan
    img[4:12:2, 3:22] = 255
    img[4:12, 3] = 255
    if not rgb:
        return img, fan
    out = np.repeat(img[..., None], 3, axis=-1)
    out[2:8, w - 10 : w - 4] = (255, 0, 0)  # colour marker outside the fan
    cy, cx = int(0.75 * h), int(w / 2)
    out[cy : cy + 3, cx - 4 : cx + 4] = (255, 255, 0)  # colour caliper inside the fan
    return out, fan


def rect_frame(h: int = 100, w: int = 140, box: tuple[int, int, int, int] = (10, 90, 20, 110), seed: int = 0) -> np.ndarray:
    """A linear-probe-like frame: textured rectangle ``(y0, y1, x0, x1)`` on black."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    img[y0:y1, x0:x1] = rng.integers(30, 220, (y1 - y0, x1 - x0))
    return img


def write_png(path: Path, arr: np.ndarray) -> Path:
    import imageio.v3 as iio

    iio.imwrite(path, arr)
    return path


def write_dicom(
    path: Path,
    frames: np.ndarray,
    *,
    spacing_cm: float | None = 0.02,
    patient_name: str = "DOE^JANE",
    patient_id: str = "PID-0042",
    pixel_spacing_mm: float | None = None,
) -> Path:
    """A multi-frame ultrasound DICOM with identifying tags and region calibration."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    frames = np.asarray(frames, np.uint8)
    n, h, w = frames.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19491231"
    ds.InstitutionName = "Saint Example Hospital"
    ds.StudyDate = "20250102"
    ds.AccessionNumber = "ACC77881"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.Manufacturer = "ExampleSonics"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = n
    ds.Rows, ds.Columns = h, w
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if spacing_cm is not None:
        reg = Dataset()
        reg.RegionSpatialFormat = 1
        reg.RegionDataType = 1
        reg.RegionLocationMinX0, reg.RegionLocationMinY0 = 0, 0
        reg.RegionLocationMaxX1, reg.RegionLocationMaxY1 = w - 1, h - 1
        reg.PhysicalUnitsXDirection = reg.PhysicalUnitsYDirection = 3
        reg.PhysicalDeltaX = reg.PhysicalDeltaY = spacing_cm
        ds.SequenceOfUltrasoundRegions = [reg]
    if pixel_spacing_mm is not None:
        ds.PixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_video(path: Path, frames: np.ndarray, fps: int = 10) -> Path:
    """Write gray frames as a video (MP4/AVI/MOV via ffmpeg, GIF via Pillow) with imageio."""
    import imageio.v3 as iio

    frames = np.asarray(frames, np.uint8)
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, frames, loop=0)
    else:
        codec = "mjpeg" if path.suffix.lower() == ".avi" else "libx264"
        iio.imwrite(path, frames, plugin="FFMPEG", fps=fps, codec=codec, macro_block_size=1,
                    output_params=["-qscale:v", "2"] if codec == "mjpeg" else ["-crf", "10"])
    return path


def write_manifest(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def manifest_row(path, **kw) -> dict:
    """One manifest row for patient P1, exam E1, zone R1 (overridden by ``kw``)."""
    row = {"path": path, "patient_id": "P1", "exam_id": "E1", "zone": "R1"}
    row.update(kw)
    return row


def real_lus_manifest(real_lus_dir: Path, path: Path, **extra) -> Path:
    """Write a manifest of every real LUS frame (COVID-BLUES patient and zone from the
    file name, other sources one exam per patient key); ``extra`` adds columns."""
    import re

    labels = pd.read_csv(real_lus_dir / "labels.csv")
    rows = []
    for r in labels.itertuples():
        m = re.match(r"frames/blues__patient_(\d+)_([LR]\d)__", r.filename)
        pid, zone = (m.group(1), m.group(2)) if m else (r.patient_key, "R1")
        rows.append({"path": str(real_lus_dir / r.filename), "patient_id": pid, "exam_id": pid,
                     "zone": zone, "probe": r.probe, **extra})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
