"""Make docs/figures/synthetic_vs_real.png: simulated frames beside real LUS frames.

Usage: python docs/make_realism_figure.py [--real DIR]
The real frames are read from ../shared/data/real_lus/frames (not part of the repository).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import imageio.v3 as iio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lusfeat.data import open_cohort
from lusfeat.data._simulate import simulate_cohort

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "data" / "real_lus" / "frames"
PICK = [
    "blues__patient_14_L3__f0050.png",
    "pocus__Reg_pat1Image_132943__f0140.png",
    "pocus__Vir_whitelung_h1n1__f0061.png",
    "pocus__Reg_Image_181206_crop__f0247.png",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--out", type=Path, default=HERE / "figures" / "synthetic_vs_real.png")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        c = open_cohort(simulate_cohort(tmp / "c", patients=6, zones=6, frames=1, size=256, seed=3))
        sev = c.frames["zone_severity"].to_numpy()
        probes = c.frames["probe"].to_numpy()
        picks = []
        for probe, lo, hi in (("convex", -9, 0.8), ("convex", 2.0, 9), ("convex", 3.4, 9), ("linear", -9, 1.0)):
            idx = np.flatnonzero((probes == probe) & (sev > lo) & (sev < hi))
            picks.append(int(idx[0]) if idx.size else 0)
        syn = [np.asarray(c.images[i]) for i in picks]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    real = []
    for name in PICK:
        p = args.real / name
        if p.exists():
            a = iio.imread(p)
            real.append(a[..., :3].mean(-1).astype(np.uint8) if a.ndim == 3 else a)
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    titles = ["convex, normal", "convex, B-lines", "convex, severe", "linear, normal"]
    for k in range(4):
        axes[0, k].imshow(syn[k], cmap="gray", vmin=0, vmax=255)
        axes[0, k].set_title(f"lusfeat simulator: {titles[k]}", fontsize=8)
        if k < len(real):
            axes[1, k].imshow(real[k], cmap="gray", vmin=0, vmax=255)
            axes[1, k].set_title(f"real: {PICK[k].split('__')[1][:28]}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
