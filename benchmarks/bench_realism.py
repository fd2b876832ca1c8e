"""Realism of the simulator: synthetic frames against a folder of real LUS frames.

Usage::

    python benchmarks/bench_realism.py [--real ../shared/data/real_lus/frames] [--n 120] [--size 128]
        [--baseline-rev 4b10402] [--figure docs/figures/synthetic_vs_real.png] [--seed 0]

Real frames are preprocessed as ``lusfeat ingest`` does (scan region, crop,
square, resize to ``--size``); synthetic frames are the first frames of ``--n``
simulated clips (severity uniform on 0-5, 20 % linear probes like the real
set). Prints the distribution distances of :mod:`lusfeat.data._realism` (in
real-frame SDs) and the classifier two-sample test AUC (patches, texture
features, gradient boosting, grouped 5-fold CV: 0.5 = indistinguishable).
With ``--baseline-rev`` the simulator of that git revision (lusfeat 0.1 by
default) is measured the same way, in a temporary worktree. ``--figure`` saves
the old simulator's frames, the new one's and real frames of both probe types
(CC-BY frames only), one row each.

Reference scale: with a frame table (``--table``, default ``labels.csv`` beside
the frames folder, one row per frame with ``filename`` and a source column),
the same two-sample test is run between every pair of real sources with at
least 8 frames of at least two patients, and between the simulator and each
such source. Two real LUS datasets differ too (scanner, preset, export path);
their AUC is the scale on which the simulator's is read. Patients
(``patient_key``; COVID-BLUES file names where the table gives none) stay on
one side of every split. A table found beside the frames may lack the source
column (then no reference is run); one named with ``--table`` must have it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lusfeat._errors import InputError  # noqa: E402
from lusfeat._io import to_jsonable  # noqa: E402
from lusfeat.data._realism import (  # noqa: E402
    classifier_two_sample_test,
    frame_statistics,
    frame_table,
    kept_sources,
    load_frames,
    realism_table,
    source_reference,
    synthetic_frames,
)

REPO = Path(__file__).resolve().parents[1]
#: The real frames beside the repository, or where $LUSFEAT_REAL_LUS points.
REAL_LUS = Path(os.environ.get("LUSFEAT_REAL_LUS", REPO.parent / "shared" / "data" / "real_lus"))
BASELINE_REV = "4b10402"  # lusfeat 0.1
MIN_FRAMES = 8  # a source is compared on its own with at least this many frames (and two patients)
#: Frames shown in the figure: CC BY licensed (POCUS dataset), convex and linear.
FIGURE_REAL = ["pocus__Reg_pat1Image_132943__f0140.png", "pocus__Reg_pat2Image_134138__f0118.png",
               "pocus__Vir_whitelung_h1n1__f0061.png", "pocus__Reg_Image_181206_crop__f0247.png",
               "pocus__Vir_or_Pneu_prospective_file4__f0075.png"]

_OLD = """
import sys, numpy as np
from lusfeat.data._simulate import simulate_clip
from lusfeat.data._sim_annotators import make_annotators
n, size, share, seed, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
anns = make_annotators(np.random.default_rng(seed), 1)
fr = []
for k in range(n):
    rng = np.random.default_rng([seed, k])
    probe = "linear" if rng.random() < share else "convex"
    fr.append(simulate_clip(rng, float(rng.uniform(0, 5)), probe, bool(rng.random() < 0.5), 1, size, anns)["images"][0])
np.save(out, np.stack(fr))
"""


def baseline_frames(rev: str, n: int, size: int, share: float, seed: int) -> np.ndarray | None:
    """Frames of the simulator at git revision ``rev`` (``None`` if it cannot be checked out)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        r = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"baseline {rev} not available: {r.stderr.strip()}")
            return None
        try:
            out = Path(tmp) / "old.npy"
            env = dict(os.environ, PYTHONPATH=str(tree))
            subprocess.run([sys.executable, "-c", _OLD, str(n), str(size), str(share), str(seed), str(out)],
                           check=True, env=env, cwd=tmp)
            return np.load(out)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)


def _groups(names: list[str]) -> list[str]:
    """Patient of each real frame (COVID-BLUES names carry it), for grouped splits."""
    out = []
    for n in names:
        m = re.match(r"blues__patient_(\d+)_", Path(n).name)
        out.append(f"blues{m.group(1)}" if m else n)
    return out


def figure(path: Path, rows: list[tuple[str, np.ndarray, list[str]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(2.6 * ncol, 2.8 * len(rows)), squeeze=False)
    for i, (label, frames, titles) in enumerate(rows):
        for j in range(ncol):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(frames):
                ax.imshow(frames[j], cmap="gray", vmin=0, vmax=255)
                ax.set_title(titles[j], fontsize=7)
            else:
                ax.axis("off")
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"figure -> {path}")


def _pick(frames: np.ndarray, probes: list[str]) -> tuple[np.ndarray, list[str]]:
    conv = [i for i, p in enumerate(probes) if p == "convex"][:3]
    lin = [i for i, p in enumerate(probes) if p == "linear"][:2]
    idx = conv + lin
    return frames[idx], [probes[i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REAL_LUS / "frames",
                    help="folder of real frames (default: frames/ in $LUSFEAT_REAL_LUS or ../shared/data/real_lus)")
    ap.add_argument("--n", type=int, default=120, help="synthetic clips")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--linear-share", type=float, default=0.2)
    ap.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the old simulator ('' to skip)")
    ap.add_argument("--figure", type=Path, default=None)
    ap.add_argument("--table", type=Path, default=None,
                    help="CSV with filename and source columns (default: labels.csv beside --real, if any)")
    ap.add_argument("--source-column", default="source")
    args = ap.parse_args()
    t0 = time.perf_counter()
    try:
        real, names = load_frames(args.real, args.size)
        table = args.table if args.table is not None else args.real.parent / "labels.csv"
        sources = None
        groups = _groups(names)
        if args.table is not None or table.is_file():
            # a table named with --table must have the source column; one found beside --real may not
            sources, groups = frame_table(table, names, args.source_column, require_source=args.table is not None,
                                          default_patients=groups)
            if not any(sources):
                sources = None
    except InputError as exc:
        sys.exit(f"error: {exc}")
    syn, probes = synthetic_frames(args.n, args.size, args.linear_share, args.seed)
    sims = {"lusfeat simulator": syn}
    old = baseline_frames(args.baseline_rev, args.n, args.size, args.linear_share, args.seed) if args.baseline_rev else None
    if old is not None:
        sims[f"simulator at {args.baseline_rev}"] = old
    real_stats = frame_statistics(real)
    result = {"real_frames": len(real), "size": args.size}
    for label, frames in sims.items():
        rows = realism_table(frame_statistics(frames), real_stats)
        c2st = classifier_two_sample_test(frames, real, seed=args.seed, groups_real=groups)
        result[label] = {"distances": {r["statistic"]: round(r["distance_sd"], 3) for r in rows}, "c2st": c2st}
    labels = list(sims)
    print(f"realism: {args.n} synthetic frames vs {len(real)} real frames ({args.real}), {args.size} px")
    print(f"{'statistic':<18}{'real':>9}" + "".join(f"{lab[:24]:>26}" for lab in labels))
    base_rows = {lab: realism_table(frame_statistics(sims[lab]), real_stats) for lab in labels}
    for k, r in enumerate(base_rows[labels[0]]):
        cells = "".join(f"{base_rows[lab][k]['synthetic']:>12.3f} ({base_rows[lab][k]['distance_sd']:>5.2f} SD)   "
                        for lab in labels)
        print(f"{r['statistic']:<18}{r['real']:>9.3f}  {cells}")
    for lab in labels:
        c = result[lab]["c2st"]
        print(f"classifier two-sample AUC, {lab}: {c['auc']:.3f} (SD over folds {c['auc_sd']:.3f}; "
              f"{c['n_synthetic']} vs {c['n_real']} patches; target <= 0.75)")
    if sources is not None:
        ref = source_reference(real, sources, groups, min_frames=MIN_FRAMES, seed=args.seed)
        result["real_vs_real"] = ref
        for r in ref:
            print(f"reference, real vs real: {r['a']} ({r['n_a']} frames) vs {r['b']} ({r['n_b']}): "
                  f"AUC {r['auc']:.3f} (SD over folds {r['auc_sd']:.3f})")
        if not ref:
            print(f"reference, real vs real: no two sources with {MIN_FRAMES} frames or more of two patients or more")
        src = np.asarray(sources, dtype=object)
        per = {}
        for k in kept_sources(sources, groups, MIN_FRAMES):
            m = src == k
            c = classifier_two_sample_test(syn, real[m], seed=args.seed, groups_real=np.asarray(groups, dtype=object)[m])
            per[k] = c
            print(f"classifier two-sample AUC, lusfeat simulator vs {k} ({int(m.sum())} frames): {c['auc']:.3f} "
                  f"(SD over folds {c['auc_sd']:.3f})")
        result["simulator_vs_source"] = per
    if args.figure is not None:
        import imageio.v3 as iio

        from lusfeat.data.ingest._preprocess import preprocess_frame
        from lusfeat.data.ingest._sector import detect_scan_region

        rows = []
        if old is not None:
            f, t = _pick(old, probes)
            rows.append((f"simulator at {args.baseline_rev}", f, t))
        f, t = _pick(syn, probes)
        rows.append(("lusfeat simulator", f, t))
        shown = []
        for name in FIGURE_REAL:
            p = args.real / name
            if p.exists():
                arr = np.asarray(iio.imread(p))[..., :3] if np.asarray(iio.imread(p)).ndim == 3 else iio.imread(p)
                shown.append(preprocess_frame(arr, detect_scan_region(arr), args.size)[0])
        if shown:
            rows.append(("real (CC BY)", np.stack(shown), [n.split("__")[1][:22] for n in FIGURE_REAL[: len(shown)]]))
        figure(args.figure, rows)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(to_jsonable(result), allow_nan=False))  # strict JSON: undefined values are null


if __name__ == "__main__":
    main()
