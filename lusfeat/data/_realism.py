"""How much do synthetic frames look like real ones? Image statistics and a two-sample test.

Two complementary measures, both computed on frames as lusfeat stores them
(square ``uint8``, scan region on black; real scans go through the ingest
preprocessing first, :func:`load_frames`):

* **Distribution distances** (:func:`realism_table`): per frame, inside the
  scan region, the intensity histogram, the local contrast (7x7 standard
  deviation over mean), speckle statistics (the log-domain SNR of small
  patches and the axial and lateral speckle size from the autocorrelation),
  the radial power spectrum and the depth profile. Scalar statistics are
  compared by the 1-Wasserstein distance between the two sets of frames,
  curves (histogram, spectrum, depth profile) by the mean absolute difference
  of the two sets' mean curves; each distance is divided by the spread of that
  statistic over the real frames, so 1 means "one real-frame SD apart".
* **Classifier two-sample test** (Lopez-Paz & Oquab 2017, *Revisiting
  classifier two-sample tests*, ICLR): patches are described by texture
  features (:func:`patch_features`), a gradient-boosted classifier learns to
  tell synthetic from real, and its AUC on held-out frames (grouped
  cross-validation: the patches of one frame never sit on both sides) is the
  measure: 0.5 means indistinguishable, 1.0 trivially separable.
* **A real-data reference** (:func:`source_reference`): the same test between
  two real sources (scanners, hospitals, datasets) says how far apart real
  LUS sets are from each other, the scale on which a simulator's AUC is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter

from .._errors import InputError
from .._io import read_csv

__all__ = [
    "load_frames",
    "synthetic_frames",
    "frame_statistics",
    "realism_table",
    "patch_features",
    "sample_patches",
    "classifier_two_sample_test",
    "frame_table",
    "kept_sources",
    "source_reference",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Scalar per-frame statistics (name -> description).
SCALARS = {
    "mean": "mean grey level in the scan region",
    "sd": "grey-level SD in the scan region",
    "p95": "95th percentile grey level",
    "dark_fraction": "share of the scan region below grey 20",
    "local_contrast": "median 7x7 SD / mean",
    "speckle_snr": "median mean/SD of 8x8 patches (log-compressed)",
    "grain_axial": "axial speckle size: autocorrelation half-width, px",
    "grain_lateral": "lateral speckle size: autocorrelation half-width, px",
    "top_bottom_ratio": "mean of the top third / mean of the bottom third",
}
CURVES = {"histogram": 32, "spectrum": 16, "depth_profile": 10}


def load_frames(folder: str | os.PathLike, size: int = 128, limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Read a folder of exported frames and preprocess them as ``lusfeat ingest`` does.

    Parameters
    ----------
    folder : path-like
        Folder of PNG/JPEG/BMP/TIFF frames, in it or in its subfolders (e.g. one per
        patient or per source); hidden files and folders are skipped.
    size : int
        Output side in pixels.
    limit : int, optional
        Read at most this many frames (sorted by path).

    Returns
    -------
    frames : (N, size, size) uint8
    names : list of str
        Paths relative to ``folder`` (``/``-separated; the file name alone for
        frames directly in it), in order.
    """
    from .ingest._preprocess import preprocess_frame
    from .ingest._sector import detect_scan_region

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"real-frame folder {folder} does not exist; pass a folder of PNG/JPEG frames")
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                   key=lambda p: p.relative_to(folder).as_posix())[:limit]
    if not paths:
        raise InputError(f"{folder} holds no PNG/JPEG/BMP/TIFF frames (in it or its subfolders)")
    import imageio.v3 as iio

    out = []
    for p in paths:
        arr = np.asarray(iio.imread(p))
        if arr.ndim == 3 and arr.shape[-1] == 4:
            arr = arr[..., :3]
        region = detect_scan_region(arr)
        out.append(preprocess_frame(arr, region, size)[0])
    return np.stack(out), [p.relative_to(folder).as_posix() for p in paths]


def synthetic_frames(
    n: int, size: int = 128, linear_share: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """First frames of ``n`` simulated clips with zone severities uniform on 0-5.

    Returns
    -------
    frames : (n, size, size) uint8
    probes : list of str
    """
    from ._sim_annotators import make_annotators
    from ._simulate import simulate_clip

    anns = make_annotators(np.random.default_rng(seed), 1)
    out, probes = [], []
    for k in range(int(n)):
        rng = np.random.default_rng([seed, k])
        probe = "linear" if rng.random() < linear_share else "convex"
        clip = simulate_clip(rng, float(rng.uniform(0, 5)), probe, bool(rng.random() < 0.5), 1, size, anns)
        out.append(clip["images"][0])
        probes.append(probe)
    return np.stack(out), probes


def _region(frame: np.ndarray) -> np.ndarray:
    """Scan region of a stored frame, as ingest finds it (convex hull of the image
    content, so dark shadows inside a fan count); all pixels if none is found."""
    from .ingest._sector import detect_scan_region

    try:
        return detect_scan_region(frame, threshold=2.0).mask
    except InputError:
        return np.ones(frame.shape, bool)


def _grain(x: np.ndarray, axis: int) -> float:
    """Half-width (px) at which the normalised autocorrelation of ``x`` along ``axis`` drops below 0.5."""
    x = x - x.mean()
    denom = float((x * x).mean())
    if denom <= 0:
        return 0.0
    prev = 1.0
    for lag in range(1, 16):
        a = x.take(range(0, x.shape[axis] - lag), axis=axis)
        b = x.take(range(lag, x.shape[axis]), axis=axis)
        r = float((a * b).mean()) / denom
        if r < 0.5:
            return lag - 1 + (prev - 0.5) / max(prev - r, 1e-9)
        prev = r
    return 15.0


def frame_statistics(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame realism statistics.

    Parameters
    ----------
    frames : (N, S, S) uint8

    Returns
    -------
    dict
        Scalars (:data:`SCALARS`) as ``(N,)`` float arrays and curves
        (:data:`CURVES`) as ``(N, K)`` arrays: grey histogram (32 bins, shares),
        radial log power spectrum (16 bands up to Nyquist, mean-centred) and
        depth profile (mean grey of 10 depth bands of the scan region).
    """
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[0] == 0:
        raise InputError(f"frames must be a non-empty (N, S, S) stack, got shape {frames.shape}")
    n, h, w = frames.shape
    out = {k: np.zeros(n) for k in SCALARS} | {k: np.zeros((n, v)) for k, v in CURVES.items()}
    yy, xx = np.mgrid[0:h, 0:w]
    fr = np.hypot((yy - h / 2) / h, (xx - w / 2) / w)
    band = np.minimum((fr / 0.5 * CURVES["spectrum"]).astype(int), CURVES["spectrum"])
    for k in range(n):
        f = frames[k].astype(np.float64)
        reg = _region(frames[k])
        if reg.sum() < 64:
            reg = np.ones_like(reg)
        v = f[reg]
        out["mean"][k], out["sd"][k], out["p95"][k] = v.mean(), v.std(), np.percentile(v, 95)
        out["dark_fraction"][k] = float((v < 20).mean())
        mu = uniform_filter(f, 7)
        sd = np.sqrt(np.clip(uniform_filter(f * f, 7) - mu * mu, 0, None))
        inner = reg & (mu > 10)
        out["local_contrast"][k] = float(np.median(sd[inner] / mu[inner])) if inner.any() else 0.0
        rows = np.flatnonzero(reg.any(axis=1))
        cols = np.flatnonzero(reg.any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        snr = []
        for y in range(r0, r1 - 8, 8):
            for x in range(c0, c1 - 8, 8):
                if reg[y : y + 8, x : x + 8].all():
                    p = f[y : y + 8, x : x + 8]
                    if p.mean() > 10:
                        snr.append(p.mean() / max(p.std(), 1e-6))
        out["speckle_snr"][k] = float(np.median(snr)) if snr else 0.0
        # speckle size from the high-passed central block of the region
        cy, cx = (r0 + r1) // 2, (c0 + c1) // 2
        half = max(8, min(r1 - r0, c1 - c0) // 4)
        blk = f[max(0, cy - half) : cy + half, max(0, cx - half) : cx + half]
        hp = blk - uniform_filter(blk, 9)
        out["grain_axial"][k], out["grain_lateral"][k] = _grain(hp, 0), _grain(hp, 1)
        third = max(1, (r1 - r0) // 3)
        top = f[r0 : r0 + third][reg[r0 : r0 + third]]
        bot = f[r1 - third : r1][reg[r1 - third : r1]]
        out["top_bottom_ratio"][k] = float(top.mean() / max(bot.mean(), 1.0)) if top.size and bot.size else 1.0
        out["histogram"][k] = np.histogram(v, bins=32, range=(0, 256))[0] / v.size
        spec = np.abs(np.fft.fftshift(np.fft.fft2((f - v.mean()) * reg))) ** 2
        pw = np.bincount(band.ravel(), weights=spec.ravel(), minlength=CURVES["spectrum"] + 1)
        cnt = np.bincount(band.ravel(), minlength=CURVES["spectrum"] + 1)
        logp = np.log10(pw[: CURVES["spectrum"]] / np.maximum(cnt[: CURVES["spectrum"]], 1) + 1e-9)
        out["spectrum"][k] = logp - logp.mean()
        edges = np.linspace(r0, r1, CURVES["depth_profile"] + 1).astype(int)
        out["depth_profile"][k] = [
            f[a:b][reg[a:b]].mean() if reg[a:b].any() else 0.0 for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
    return out


def _wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


def realism_table(synthetic: dict[str, np.ndarray], real: dict[str, np.ndarray]) -> list[dict[str, float | str]]:
    """Distances between synthetic and real frame statistics (see the module docstring).

    Parameters
    ----------
    synthetic, real : dict
        Outputs of :func:`frame_statistics`.

    Returns
    -------
    list of dict
        One row per statistic: ``statistic``, ``synthetic`` and ``real`` (mean
        value, or mean of the curve), ``distance`` (raw) and ``distance_sd``
        (in units of the real frames' spread).
    """
    rows = []
    for k in SCALARS:
        s, r = synthetic[k], real[k]
        d = _wasserstein(s, r)
        rows.append({"statistic": k, "synthetic": float(s.mean()), "real": float(r.mean()), "distance": d,
                     "distance_sd": d / max(float(r.std()), 1e-9)})
    for k in CURVES:
        s, r = synthetic[k], real[k]
        d = float(np.abs(s.mean(axis=0) - r.mean(axis=0)).mean())
        spread = float(r.std(axis=0).mean())
        rows.append({"statistic": k, "synthetic": float(s.mean()), "real": float(r.mean()), "distance": d,
                     "distance_sd": d / max(spread, 1e-9)})
    return rows


def sample_patches(
    frames: np.ndarray, per_frame: int, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw square patches that lie inside the scan region.

    Returns
    -------
    patches : (M, patch, patch) uint8
    frame_of : (M,) int
        Index of the frame each patch comes from.
    depth : (M,) float
        Relative depth of the patch centre in the scan region (0 top, 1 bottom).
    """
    out, owner, depth = [], [], []
    for k, f in enumerate(frames):
        reg = _region(f)
        inside = uniform_filter(reg.astype(np.float32), patch) > 0.999
        half = patch // 2
        inside[:half], inside[-half:], inside[:, :half], inside[:, -half:] = False, False, False, False
        cand = np.flatnonzero(inside.ravel())
        if cand.size == 0:
            continue
        rows = np.flatnonzero(reg.any(axis=1))
        r0, r1 = rows[0], rows[-1] + 1
        for c in rng.choice(cand, size=min(per_frame, cand.size), replace=False):
            y, x = divmod(int(c), f.shape[1])
            out.append(f[y - half : y - half + patch, x - half : x - half + patch])
            owner.append(k)
            depth.append((y - r0) / max(r1 - r0, 1))
    if not out:
        raise InputError("no patch fits inside the scan regions; use smaller patches or larger frames")
    return np.stack(out), np.asarray(owner), np.asarray(depth)


def patch_features(patches: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """Texture features of patches: grey-level moments and percentiles, local contrast,
    gradient energy along and across the beam, autocorrelation at lags 1, 2 and 4 in
    both directions, and a 6-band radial power spectrum (plus the relative depth).

    Parameters
    ----------
    patches : (M, P, P) uint8
    depth : (M,) float, optional

    Returns
    -------
    (M, F) float64
    """
    x = patches.astype(np.float64)
    m = x.mean(axis=(1, 2))
    sd = x.std(axis=(1, 2)) + 1e-6
    z = (x - m[:, None, None]) / sd[:, None, None]
    feats = [m, sd, (z**3).mean(axis=(1, 2)), (z**4).mean(axis=(1, 2))]
    feats += list(np.percentile(x.reshape(len(x), -1), [5, 25, 50, 75, 95], axis=1))
    gy, gx = np.diff(x, axis=1), np.diff(x, axis=2)
    feats += [np.abs(gy).mean(axis=(1, 2)) / sd, np.abs(gx).mean(axis=(1, 2)) / sd]
    for lag in (1, 2, 4):
        feats.append((z[:, lag:] * z[:, :-lag]).mean(axis=(1, 2)))
        feats.append((z[:, :, lag:] * z[:, :, :-lag]).mean(axis=(1, 2)))
    p = x.shape[1]
    spec = np.abs(np.fft.fft2(z)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(p), np.fft.fftfreq(p), indexing="ij")
    band = np.minimum((np.hypot(fy, fx) / 0.5 * 6).astype(int), 5)
    for b in range(1, 6):
        feats.append(np.log10(spec[:, band == b].mean(axis=1) + 1e-9))
    if depth is not None:
        feats.append(np.asarray(depth, dtype=np.float64))
    return np.column_stack(feats)


def classifier_two_sample_test(
    synthetic: np.ndarray,
    real: np.ndarray,
    *,
    per_frame: int = 24,
    patch: int = 24,
    folds: int = 5,
    seed: int = 0,
    groups_real: Sequence[object] | None = None,
    groups_synthetic: Sequence[object] | None = None,
) -> dict[str, float]:
    """Classifier two-sample test on patches: held-out AUC of synthetic vs real.

    Parameters
    ----------
    synthetic, real : (N, S, S) uint8
        Frames of each kind.
    per_frame : int
        Patches drawn per frame (inside the scan region).
    patch : int
        Patch side, px.
    folds : int
        Grouped cross-validation folds (groups: frames, or ``groups_synthetic`` and
        ``groups_real``); at most the number of groups on the smaller side.
    seed : int
    groups_real : sequence, optional
        Group of each real frame (e.g. its patient), so that correlated frames
        stay on one side of every split.
    groups_synthetic : sequence, optional
        The same for the first set (when it is real too, see :func:`source_reference`).

    Returns
    -------
    dict
        ``auc`` (pooled out-of-fold AUC), ``auc_sd`` (SD over folds),
        ``n_synthetic``/``n_real`` patches and ``accuracy``.

    Raises
    ------
    InputError
        When a groups sequence does not hold one entry per frame, or a side has
        fewer than two groups (no held-out group is left to test on).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    for name, grp, fr in (("groups_synthetic", groups_synthetic, synthetic), ("groups_real", groups_real, real)):
        if grp is not None and len(grp) != len(fr):
            raise InputError(f"{name}: {len(grp)} groups for {len(fr)} frames; pass one group per frame")
        if len(set(grp) if grp is not None else range(len(fr))) < 2:
            raise InputError(f"{name.split('_')[1]} side: its frames form fewer than two groups (patients); "
                             "a grouped split needs at least two on each side")
    rng = np.random.default_rng(seed)
    ps, fs, ds = sample_patches(synthetic, per_frame, patch, rng)
    pr, fr, dr = sample_patches(real, per_frame, patch, rng)
    g_real = np.asarray(groups_real, dtype=object)[fr] if groups_real is not None else fr
    g_syn = np.asarray(groups_synthetic, dtype=object)[fs] if groups_synthetic is not None else fs
    x = np.vstack([patch_features(ps, ds), patch_features(pr, dr)])
    y = np.r_[np.zeros(len(ps)), np.ones(len(pr))]
    groups = np.r_[np.asarray([f"s{g}" for g in g_syn], dtype=object), np.asarray([f"r{g}" for g in g_real], dtype=object)]
    n_groups = min(len(set(groups[y == 0])), len(set(groups[y == 1])))
    k = max(2, min(folds, n_groups))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    score = np.zeros(len(y))
    aucs = []
    for tr, te in cv.split(x, y, groups):
        clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=15,
                                             l2_regularization=1.0, random_state=seed)
        # balance the classes so the AUC does not depend on their ratio
        wts = np.where(y[tr] == 1, (y[tr] == 0).sum() / max((y[tr] == 1).sum(), 1), 1.0)
        clf.fit(x[tr], y[tr], sample_weight=wts)
        score[te] = clf.predict_proba(x[te])[:, 1]
        if len(set(y[te])) == 2:
            aucs.append(roc_auc_score(y[te], score[te]))
    return {
        "auc": float(roc_auc_score(y, score)),
        "auc_sd": float(np.std(aucs)) if aucs else float("nan"),
        "accuracy": float(((score > 0.5) == y).mean()),
        "n_synthetic": int(len(ps)),
        "n_real": int(len(pr)),
        "folds": int(k),
    }


def frame_table(table: str | os.PathLike, names: Sequence[str], source: str = "source",
                patient: str = "patient_key", *, require_source: bool = True,
                default_patients: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Source and patient of each frame, from a CSV with one row per frame.

    Parameters
    ----------
    table : path-like
        CSV with a ``filename`` column (a path that ends with the frame's name, e.g.
        ``frames/x.png`` for ``x.png``) and the ``source`` column; the ``patient``
        column is optional.
    names : sequence of str
        Frame paths relative to the frames folder (as :func:`load_frames` returns
        them); each must match the end of exactly one row's ``filename``.
    source, patient : str
        Column names.
    require_source : bool
        Whether a table without the ``source`` column is an error; when ``False``
        every source is ``""`` (unknown).
    default_patients : sequence of str, optional
        Patient of each frame where the table gives none (default: its file name).

    Returns
    -------
    sources, patients : list of str
        One entry per name; an empty source means unknown (see :func:`kept_sources`).

    Raises
    ------
    InputError
        When the file is missing or unreadable, lacks a required column, or a frame
        matches no row or two rows.
    """
    path = Path(table)
    if not path.is_file():
        raise InputError(f"frame table {path} does not exist; pass a CSV with filename and {source} columns")
    df = read_csv(path, dtype=str, keep_default_na=False)
    if "filename" not in df.columns:
        raise InputError(f"{path}: no column 'filename' (columns: {', '.join(df.columns)}); "
                         "add one with each frame's file name")
    has_source = source in df.columns
    if require_source and not has_source:
        raise InputError(f"{path}: no column {source!r} (columns: {', '.join(df.columns)}); "
                         "add it or give the name of the column that holds each frame's source")
    # every trailing part of a row's path names it: "frames/a/x.png" matches "x.png", "a/x.png", ...
    rows: dict[str, list[int]] = {}
    for k, f in enumerate(df["filename"]):
        parts = Path(str(f).replace("\\", "/")).parts
        for i in range(len(parts)):
            rows.setdefault("/".join(parts[i:]), []).append(k)
    missing = [n for n in names if n not in rows]
    if missing:
        raise InputError(f"{path}: no row for frame {missing[0]!r} ({len(missing)} frame(s) missing); "
                         "add one row per frame")
    twice = next((n for n in names if len(rows[n]) > 1), None)
    if twice is not None:
        a, b = rows[twice][:2]
        raise InputError(f"{path}: frame {twice!r} is named twice (rows {a + 2} and {b + 2}); keep one row per "
                         "frame, or give each row's path down to the subfolder that tells them apart")
    idx = [rows[n][0] for n in names]
    sources = [str(df[source].iat[i]) for i in idx] if has_source else [""] * len(names)
    fallback = list(default_patients) if default_patients is not None else list(names)
    given = [str(df[patient].iat[i]) for i in idx] if patient in df.columns else [""] * len(names)
    patients = [g or d for g, d in zip(given, fallback, strict=True)]
    return sources, patients


def kept_sources(sources: Sequence[str], groups: Sequence[object] | None = None, min_frames: int = 8,
                 min_groups: int = 2) -> list[str]:
    """The known sources with enough frames and groups (patients) to be tested on their own.

    Parameters
    ----------
    sources : sequence of str
        Source of each frame (``""`` = unknown, never kept).
    groups : sequence, optional
        Patient of each frame (default: every frame its own).
    min_frames, min_groups : int
        A source needs at least this many frames and distinct groups.

    Returns
    -------
    list of str
        Sorted source names.
    """
    src = np.asarray(list(sources), dtype=object)
    grp = _group_array(groups, len(src))
    return sorted(k for k in set(src) - {""}
                  if (src == k).sum() >= min_frames and len(set(grp[src == k])) >= min_groups)


def _group_array(groups: Sequence[object] | None, n: int) -> np.ndarray:
    """``groups`` as an object array; without groups every one of the ``n`` frames is its own."""
    return np.asarray(list(groups), dtype=object) if groups is not None else np.arange(n).astype(object)


def source_reference(
    frames: np.ndarray,
    sources: Sequence[str],
    groups: Sequence[object] | None = None,
    *,
    min_frames: int = 8,
    seed: int = 0,
    **kwargs,
) -> list[dict[str, object]]:
    """Classifier two-sample AUC between every pair of real sources.

    Two real LUS sets (other scanners, presets, hospitals, export paths) differ
    too; the AUC between them is the scale on which a simulator's AUC against
    real frames is read.

    Parameters
    ----------
    frames : (N, S, S) uint8
        Real frames.
    sources : sequence of str, length N
        Source of each frame.
    groups : sequence, optional
        Patient of each frame (kept on one side of every split).
    min_frames : int
        Sources with fewer frames, or fewer than two patients, are left out
        (:func:`kept_sources`).
    seed : int
    **kwargs
        Passed to :func:`classifier_two_sample_test`.

    Returns
    -------
    list of dict
        ``a``, ``b`` (sources), ``n_a``, ``n_b`` (frames) and the test's result
        (``auc``, ``auc_sd``, ...), one per pair.
    """
    src = np.asarray(list(sources), dtype=object)
    if len(src) != len(frames):
        raise InputError(f"{len(src)} sources for {len(frames)} frames; pass one source per frame")
    grp = _group_array(groups, len(frames))
    if len(grp) != len(frames):
        raise InputError(f"{len(grp)} groups for {len(frames)} frames; pass one group (patient) per frame")
    kept = kept_sources(src, grp, min_frames)
    out: list[dict[str, object]] = []
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            ma, mb = src == a, src == b
            r = classifier_two_sample_test(frames[ma], frames[mb], seed=seed, groups_synthetic=grp[ma],
                                           groups_real=grp[mb], **kwargs)
            out.append({"a": a, "b": b, "n_a": int(ma.sum()), "n_b": int(mb.sum()), **r})
    return out
