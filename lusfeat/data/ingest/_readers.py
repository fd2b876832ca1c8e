"""Decode one source file (image, DICOM or video) into 8-bit frames."""

from __future__ import annotations

import math
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._dicom import read_dicom

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "DICOM_SUFFIXES", "SourceFrames", "source_kind", "read_source"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".gif", ".mpeg", ".mpg", ".m4v")
DICOM_SUFFIXES = (".dcm", ".dicom", "")


@dataclass
class SourceFrames:
    """Frames decoded from one file.

    Attributes
    ----------
    frames : (F, H, W) or (F, H, W, 3) uint8
    indices : (F,) int
        Index of each frame in the file (decode order, 0-based).
    kind : str
        ``"image"``, ``"dicom"`` or ``"video"``.
    spacing_mm : float
        Pixel spacing read from the file (NaN when unknown).
    spacing_source : str
    header : dict
        De-identified technical tags (DICOM only).
    notes : list of str
        Conversions made and decoder warnings.
    """

    frames: np.ndarray
    indices: np.ndarray
    kind: str
    spacing_mm: float = float("nan")
    spacing_source: str = "unknown"
    header: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def source_kind(path: Path) -> str:
    """Kind of a file from its suffix (DICOM also for files without a suffix)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in DICOM_SUFFIXES:
        return "dicom"
    return "unknown"


def _to_uint8(arr: np.ndarray, notes: list[str]) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    lo, hi = float(arr.min()), float(arr.max())
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    notes.append(f"rescaled {arr.dtype} values {lo:g}..{hi:g} to 0..255")
    return np.clip(np.rint((arr.astype(np.float64) - lo) * scale), 0, 255).astype(np.uint8)


def _normalise_channels(arr: np.ndarray, stack: bool) -> np.ndarray:
    """Return (F, H, W) or (F, H, W, 3); drop alpha, expand gray+alpha."""
    if not stack:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.ndim == 4 and arr.shape[-1] == 2:
        arr = arr[..., 0]
    elif arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(f"unsupported pixel layout {arr.shape}; expected gray or RGB frames")
    return arr


def _read_image(path: Path, notes: list[str]) -> np.ndarray:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(path)
            stack = arr.ndim == 3 and arr.shape[-1] not in (3, 4) or arr.ndim == 4
        else:
            import imageio.v3 as iio
            from PIL import Image, ImageFile

            if ImageFile.LOAD_TRUNCATED_IMAGES:  # never accept truncated data silently
                raise ValueError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; unset it to check files")
            with Image.open(path) as im:
                im.load()  # raises OSError on truncated data
            arr = iio.imread(path)
            stack = False
    notes += [f"decoder warning: {w.message}" for w in caught]
    return _normalise_channels(_to_uint8(np.asarray(arr), notes), stack)


def _read_video(path: Path, every: int, frame_index: int | None, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Decode a video with the ffmpeg binary of imageio-ffmpeg into RGB frames."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    if frame_index is not None:
        select = f"select=eq(n\\,{int(frame_index)})"
    else:
        select = f"select=not(mod(n\\,{int(every)}))"
    cmd = [
        exe, "-nostdin", "-v", "error", "-i", os.fspath(path), "-vf", select,
        "-fps_mode", "passthrough", "-f", "image2pipe", "-c:v", "ppm", "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    err = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0:
        last = err.splitlines()[-1] if err else f"exit status {proc.returncode}"
        raise ValueError(f"ffmpeg could not decode it ({last})")
    frames = _parse_ppm_stream(proc.stdout)
    if not frames:
        raise ValueError("no frames could be decoded" + (f" (frame_index {frame_index} beyond the end?)" if frame_index is not None else ""))
    if err:  # ffmpeg keeps going after damaged data: the last frames would be garbage
        raise ValueError(
            f"decoded {len(frames)} frame(s), then the decoder failed ({err.splitlines()[-1]}): "
            "the video is truncated or corrupt"
        )
    arr = np.stack(frames)
    if frame_index is not None:
        idx = np.array([int(frame_index)])
    else:
        idx = np.arange(arr.shape[0]) * int(every)
    return arr, idx


def _parse_ppm_stream(data: bytes) -> list[np.ndarray]:
    frames = []
    pos = 0
    n = len(data)
    while pos < n:
        fields: list[bytes] = []
        while len(fields) < 4:
            while pos < n and data[pos : pos + 1].isspace():
                pos += 1
            start = pos
            while pos < n and not data[pos : pos + 1].isspace():
                pos += 1
            fields.append(data[start:pos])
        pos += 1  # single whitespace after maxval
        if fields[0] != b"P6":
            raise ValueError("unexpected decoder output (not PPM)")
        w, h, maxval = int(fields[1]), int(fields[2]), int(fields[3])
        if maxval != 255:
            raise ValueError(f"unexpected decoder output depth {maxval}")
        size = w * h * 3
        if pos + size > n:
            raise ValueError("decoder output ended inside a frame (truncated video)")
        frames.append(np.frombuffer(data, np.uint8, size, pos).reshape(h, w, 3).copy())
        pos += size
    return frames


def _gray_if_equal(arr: np.ndarray) -> np.ndarray:
    """Colour frames whose channels are equal everywhere become gray."""
    if arr.ndim == 4 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
        return np.ascontiguousarray(arr[..., 0])
    return arr


def read_source(
    path: str | os.PathLike,
    *,
    every: int = 1,
    frame_index: int | None = None,
    deidentify: bool = True,
) -> SourceFrames:
    """Decode the frames of one image, DICOM or video file.

    Parameters
    ----------
    path : path-like
        PNG, JPEG, TIFF (multi-page allowed), BMP, DICOM (single/multi-frame) or video
        (MP4, AVI, MOV, GIF, MPEG).
    every : int
        Keep every ``every``-th frame of multi-frame files (0, every, 2*every, ...).
    frame_index : int, optional
        Keep only this frame (0-based) of a multi-frame file.
    deidentify : bool
        See :func:`read_dicom`.

    Returns
    -------
    SourceFrames

    Raises
    ------
    FileNotFoundError, ValueError, OSError
        When the file is missing, unreadable or truncated; the caller reports them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    kind = source_kind(path)
    notes: list[str] = []
    spacing, spacing_source, header = math.nan, "unknown", {}
    if kind == "image":
        arr = _read_image(path, notes)
        idx = np.arange(arr.shape[0])
    elif kind == "video":
        arr, idx = _read_video(path, every, frame_index, notes)
        frame_index = None
    elif kind == "dicom":
        arr, spacing, spacing_source, header, dnotes = read_dicom(path, deidentify=deidentify)
        notes += dnotes
        idx = np.arange(arr.shape[0])
    else:
        raise ValueError(
            f"unknown file type {path.suffix!r}; use one of "
            f"{', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES + ('.dcm',))}"
        )
    if kind != "video":
        if frame_index is not None:
            if not 0 <= frame_index < arr.shape[0]:
                raise ValueError(f"frame_index {frame_index} is outside the file's {arr.shape[0]} frame(s)")
            arr, idx = arr[frame_index : frame_index + 1], idx[frame_index : frame_index + 1]
        elif every > 1:
            arr, idx = arr[::every], idx[::every]
    return SourceFrames(
        frames=_gray_if_equal(np.ascontiguousarray(arr)),
        indices=idx.astype(np.int64),
        kind=kind,
        spacing_mm=float(spacing),
        spacing_source=spacing_source,
        header=header,
        notes=notes,
    )
